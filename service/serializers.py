from rest_framework import serializers

from core.fields import BoundedDateTimeField, DecimalStringField, InputSerializer, IntegerField, ListMsisdnField
from customers.serializers import MsisdnField

from . import rules
from .models import Complaint, ComplaintCategory, ComplaintChannel, ComplaintState, ComplaintStep


class ComplaintReceiveSerializer(InputSerializer):
    msisdn = MsisdnField()
    channel = serializers.ChoiceField(choices=ComplaintChannel.choices)
    category = serializers.ChoiceField(choices=ComplaintCategory.choices)
    text = serializers.CharField(max_length=4000)
    received_at = BoundedDateTimeField(past=True, help_text="when the complaint was received; not in the future")
    received_by = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="login of whoever received it (the owner); default: you, or for an API client the member's "
        "account manager",
    )


class CompensationSerializer(InputSerializer):
    points = IntegerField(min_value=1, max_value=100_000, required=False, allow_null=True, default=None)
    benefit = serializers.SlugField(max_length=40, required=False, allow_blank=True, default="")
    quantity = IntegerField(min_value=1, max_value=100, required=False, allow_null=True, default=None)

    def validate(self, data):
        if not data.get("points") and not data.get("benefit"):
            raise serializers.ValidationError({"points": ["points, or a benefit and a quantity"]})
        if data.get("points") and data.get("benefit"):
            raise serializers.ValidationError({"benefit": ["points or a benefit, not both"]})
        return data


class ComplaintTransitionSerializer(InputSerializer):
    to = serializers.ChoiceField(choices=ComplaintState.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    compensation = CompensationSerializer(required=False, allow_null=True, default=None)
    billing_refund = DecimalStringField(
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="yuan refunded (double) by billing for a billing error; recorded when resolved",
    )
    occurred_at = BoundedDateTimeField(
        past=True, required=False, allow_null=True, default=None, help_text="default: now; not in the future"
    )


class ComplaintHandoverSerializer(InputSerializer):
    owner = serializers.CharField(max_length=150, help_text="login of the new owner")
    note = serializers.CharField(max_length=2000)
    occurred_at = BoundedDateTimeField(
        past=True, required=False, allow_null=True, default=None, help_text="default: now; not in the future"
    )


class ComplaintStepSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="actor_label")
    owner = serializers.CharField(source="owner_label")

    class Meta:
        model = ComplaintStep
        fields = ["action", "from_state", "to_state", "by", "at", "note", "owner"]


class ComplaintSerializer(serializers.ModelSerializer):
    msisdn = ListMsisdnField(source="customer.msisdn")
    region = serializers.CharField(source="region.code")
    tier = serializers.CharField(source="tier.code", allow_null=True, default=None)
    status = serializers.CharField(source="state")
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    received_by = serializers.CharField(source="received_by.username", allow_null=True, default=None)
    allowed_transitions = serializers.SerializerMethodField()
    compensation = serializers.SerializerMethodField()
    history = ComplaintStepSerializer(source="steps", many=True)

    class Meta:
        model = Complaint
        fields = [
            "id",
            "msisdn",
            "region",
            "tier",
            "channel",
            "category",
            "text",
            "status",
            "allowed_transitions",
            "owner",
            "received_by",
            "received_at",
            "ack_due_at",
            "reply_due_at",
            "resolve_due_on",
            "acknowledged_at",
            "replied_at",
            "resolved_at",
            "closed_at",
            "escalated",
            "escalated_at",
            "compensation",
            "billing_refund",
            "history",
        ]

    def get_allowed_transitions(self, obj) -> list[str]:
        return list(
            rules.allowed_transitions(
                obj.state, acknowledged=obj.acknowledged_at is not None, replied=obj.replied_at is not None
            )
        )

    def get_compensation(self, obj) -> dict | None:
        if obj.compensation_points:
            return {"points": obj.compensation_points}
        if obj.compensation_benefit_id:
            return {"benefit": obj.compensation_benefit.code, "quantity": obj.compensation_quantity}
        return None


class ComplaintReportQuerySerializer(InputSerializer):
    year = IntegerField(min_value=2000, max_value=2099, required=False, help_text="default: this year")
    region = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
