from rest_framework import serializers

from core.fields import (
    BoundedDateField,
    BoundedDateTimeField,
    InputSerializer,
    IntegerField,
    ListMsisdnField,
    MonthField,
)
from customers.serializers import MsisdnField
from managers.models import Channel

from . import rules
from .models import CaseState, CaseStep, ReasonCategory, RetentionCase


class ClosureRequestedDataSerializer(InputSerializer):
    """`data` of a `closure_requested` event (API.md): channel and reason, and optionally the reason category."""

    channel = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    reason_category = serializers.ChoiceField(
        choices=ReasonCategory.choices, required=False, allow_blank=True, default=""
    )


class CaseOpenSerializer(ClosureRequestedDataSerializer):
    msisdn = MsisdnField()
    occurred_at = BoundedDateTimeField(past=True, required=False, help_text="default: now; not in the future")


class CaseTransitionSerializer(InputSerializer):
    to = serializers.ChoiceField(choices=CaseState.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    offer = serializers.SlugField(max_length=40, required=False, allow_blank=True, default="", help_text="offer code")
    visit_on = BoundedDateField(required=False, allow_null=True, default=None, help_text="home visit (escalated)")
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="logs the contact (reached) in the trail",
    )
    reason_category = serializers.ChoiceField(
        choices=ReasonCategory.choices, required=False, allow_blank=True, default=""
    )
    occurred_at = BoundedDateTimeField(
        past=True, required=False, allow_null=True, default=None, help_text="default: now; not in the future"
    )


class CaseStepSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="actor_label")
    offer = serializers.CharField(source="offer.code", allow_null=True, default=None)

    class Meta:
        model = CaseStep
        fields = [
            "action",
            "from_state",
            "to_state",
            "by",
            "at",
            "note",
            "offer",
            "visit_on",
            "channel",
            "reason_category",
        ]


class CaseSerializer(serializers.ModelSerializer):
    msisdn = ListMsisdnField(source="customer.msisdn")
    name = serializers.CharField(source="customer.name")
    region = serializers.CharField(source="customer.region.code")
    manager = serializers.CharField(source="manager.employee_no", allow_null=True, default=None)
    offer = serializers.CharField(source="offer.code", allow_null=True, default=None)
    allowed_transitions = serializers.SerializerMethodField()
    history = CaseStepSerializer(source="steps", many=True)

    class Meta:
        model = RetentionCase
        fields = [
            "id",
            "msisdn",
            "name",
            "region",
            "manager",
            "state",
            "allowed_transitions",
            "reason_category",
            "reason",
            "channel",
            "requests",
            "offer",
            "visit_on",
            "opened_at",
            "closed_at",
            "history",
        ]

    def get_allowed_transitions(self, obj) -> list[str]:
        return list(rules.allowed_transitions(obj.state))


class ChurnReportQuerySerializer(InputSerializer):
    year = IntegerField(min_value=2000, max_value=2099, required=False, help_text="default: this year")
    region = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class TierReportQuerySerializer(InputSerializer):
    region = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    month = MonthField(required=False, help_text="YYYY-MM: members at that month end (default: now)")


class ChurnRowSerializer(serializers.Serializer):
    month = MonthField()
    tier = serializers.CharField(source="series", help_text="tier code, or `all`")
    members = serializers.IntegerField(allow_null=True, help_text="at the month end; null: no snapshot")
    members_previous = serializers.IntegerField(allow_null=True, help_text="at the end of the month before")
    average_members = serializers.DecimalField(max_digits=14, decimal_places=1, allow_null=True)
    churned = serializers.IntegerField()
    voluntary = serializers.IntegerField()
    arrears = serializers.IntegerField()
    rate = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True, help_text="% of members_previous")
    ytd_churned = serializers.IntegerField()
    ytd_rate = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    target = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    breach = serializers.BooleanField()


class SnapshotRowSerializer(serializers.Serializer):
    month = MonthField()
    tier = serializers.CharField(source="series")
    base_members = serializers.IntegerField()
    retained = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
