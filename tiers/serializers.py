from rest_framework import serializers

from core.fields import InputSerializer, ListMsisdnField, MonthField


class RunStartSerializer(InputSerializer):
    month = MonthField(help_text="YYYY-MM: the run's month M (bills of M-12 … M-1)")
    dry_run = serializers.BooleanField(default=False)
    force = serializers.BooleanField(default=False, help_text="run although month M-1 is not closed")
    policy = serializers.CharField(required=False, help_text="policy code; default: the active policy")
    draft = serializers.DictField(
        required=False,
        help_text='dry runs only: policy changes to try, e.g. {"thresholds": {"diamond": "5000"}}',
    )


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    month = MonthField()
    policy = serializers.CharField(source="policy.code")
    policy_version = serializers.IntegerField()
    evaluation_date = serializers.DateField()
    dry_run = serializers.BooleanField()
    forced = serializers.BooleanField()
    status = serializers.CharField()
    progress = serializers.SerializerMethodField()
    counts = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, run) -> dict:
        return {"done": run.progress_done, "total": run.progress_total}


class RunChangeSerializer(serializers.Serializer):
    msisdn = ListMsisdnField(source="customer.msisdn")
    from_tier = serializers.CharField(source="from_tier.code", allow_null=True, default=None)
    to_tier = serializers.CharField(source="to_tier.code", allow_null=True, default=None)
    transition = serializers.CharField()
    reason = serializers.CharField()
    score = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    valid_until = serializers.DateField(allow_null=True)


class TierHistorySerializer(serializers.Serializer):
    from_tier = serializers.CharField(source="from_tier.code", allow_null=True, default=None)
    to_tier = serializers.CharField(source="to_tier.code", allow_null=True, default=None)
    transition = serializers.CharField()
    reason = serializers.CharField()
    score = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    effective_on = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)
    run = serializers.IntegerField(source="run_id", allow_null=True)
    explanation = serializers.SerializerMethodField()

    def get_explanation(self, change) -> dict | None:
        explain = self.context.get("explain")
        return explain(change.run) if explain and change.run_id else None


class TierStateSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    source = serializers.CharField()
    since = serializers.DateField(allow_null=True)
