from rest_framework import serializers

from core.fields import InputSerializer
from customers.serializers import MsisdnField

from .models import Activity, ActivityTierQuota


class ActivityQuotaSerializer(serializers.ModelSerializer):
    tier = serializers.CharField(source="tier.code")
    seats = serializers.IntegerField(allow_null=True, help_text="the tier's seat quota; null: only the capacity")

    class Meta:
        model = ActivityTierQuota
        fields = ["tier", "seats", "confirmed"]


class ActivitySerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.code", allow_null=True, default=None, help_text="null: club-wide")
    cost_per_head = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)
    waitlisted = serializers.IntegerField()
    invited_tiers = ActivityQuotaSerializer(source="quotas", many=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "title",
            "kind",
            "status",
            "starts_at",
            "place",
            "region",
            "capacity",
            "confirmed",
            "waitlisted",
            "signup_opens_at",
            "signup_closes_at",
            "cost_per_head",
            "invited_tiers",
        ]


class SignupRequestSerializer(InputSerializer):
    msisdn = MsisdnField()


class SignupAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["confirmed", "waitlisted", "attended", "no_show"])
    position = serializers.IntegerField(required=False, help_text="her place on the waitlist (1 = next), if waitlisted")


class SignupCancelAnswerSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="cancelled")
    promoted = serializers.IntegerField(help_text="members moved up from the waitlist into the freed seat")
