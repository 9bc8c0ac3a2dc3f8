from rest_framework import serializers

from .models import Delivery, WebhookEndpoint

# API.md "Outbound events"
EVENT_TYPES = [
    "tier.changed",
    "tier.expiring",
    "benefits.granted",
    "points.changed",
    "points.expiring",
    "manager.assigned",
    "retention.case_opened",
    "retention.case_closed",
    "privileges.changed",
    "complaint.changed",
    "gift_order.changed",
    "sms.requested",
]


class EndpointSerializer(serializers.ModelSerializer):
    types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        allow_empty=True,
        help_text="the event types sent to this endpoint; empty or left out: all",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    pending = serializers.IntegerField(read_only=True, required=False, help_text="deliveries waiting or retrying")
    parked = serializers.IntegerField(read_only=True, required=False, help_text="deliveries parked for a replay")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "types", "description", "active", "paused_reason", "paused_at", "created_at"]
        fields += ["pending", "parked"]
        read_only_fields = ["id", "paused_reason", "paused_at", "created_at"]

    def validate_description(self, value):
        return value or ""


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="whsec_…: shown once, keep it to verify signatures")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="public_event_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "last_duration_ms",
            "delivered_at",
        ]
