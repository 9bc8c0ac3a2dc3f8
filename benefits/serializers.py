"""Input of the benefits API, and the shapes of its answers (for the schema)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import BoundedDateField, DecimalStringField, InputSerializer, IntegerField
from customers.models import msisdn_validator

QUANTITY_HELP = "an integer for count and hours benefits, a decimal string in yuan for money benefits"


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "format": "decimal", "example": "388.50"}]})
class QuantityField(serializers.Field):
    """A quota or use as benefits.rules.quantity_out shows it: an integer (count, hours) or yuan as a decimal
    string (money)."""

    def to_representation(self, value):
        return value


class RedemptionRequestSerializer(InputSerializer):
    msisdn = serializers.CharField(max_length=11, validators=[msisdn_validator])
    benefit = serializers.SlugField(max_length=40, help_text="a benefit code of the catalog, e.g. lounge_airport")
    quantity = IntegerField(
        min_value=1, max_value=1000, default=1, help_text="uses (count benefits); 1 for money and hours benefits"
    )
    amount = DecimalStringField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        allow_null=True,
        help_text="yuan, money benefits only (birthday gift, special care)",
    )
    reference = serializers.CharField(
        max_length=100, help_text="the caller's reference: visit, order or ticket; for special care the event"
    )
    redeemed_on = BoundedDateField(
        past=True, required=False, help_text="the date of the use; default today; not in the future"
    )


class ReverseRequestSerializer(InputSerializer):
    reason = serializers.CharField(max_length=100, required=False, allow_blank=True)


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the redemption (ledger entry) id, for a reversal")
    remaining = QuantityField(allow_null=True, help_text=f"left in the period: {QUANTITY_HELP}; null when unlimited")
    benefit = serializers.CharField()
    unit = serializers.ChoiceField(choices=["count", "money", "hours", "flag"])
    period_start = serializers.DateField(allow_null=True)
    used = QuantityField(help_text=f"what this redemption used: {QUANTITY_HELP}")
    unlimited = serializers.BooleanField()
    hours = serializers.IntegerField(required=False, help_text="emergency reactivation: hours of service granted")
    valid_until = serializers.DateField(
        required=False, help_text="e.g. the roaming pack: 90 days counting the claim day"
    )


class ReversalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reverses = serializers.IntegerField()
    remaining = QuantityField(allow_null=True, help_text=QUANTITY_HELP)
    benefit = serializers.CharField()
    unit = serializers.CharField()


class CustomerBenefitSerializer(serializers.Serializer):
    benefit = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    period = serializers.ChoiceField(choices=["year", "month", "event", "none"])
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    granted = QuantityField(allow_null=True, help_text=f"{QUANTITY_HELP}; null for flags and unlimited")
    used = QuantityField(allow_null=True, help_text=QUANTITY_HELP)
    remaining = QuantityField(allow_null=True, help_text=QUANTITY_HELP)
    unit = serializers.ChoiceField(choices=["count", "money", "hours", "flag"])
    unlimited = serializers.BooleanField()
    hours = serializers.IntegerField(required=False, help_text="hours benefits: hours per use")
    per_event = serializers.BooleanField(required=False, help_text="per-event benefits: granted is the cap per event")
    enabled = serializers.BooleanField(required=False, help_text="flags")
    percent = serializers.IntegerField(required=False, allow_null=True, help_text="flags, e.g. the late-fee waiver")


class CustomerFlagsSerializer(serializers.Serializer):
    tier = serializers.CharField(allow_null=True)
    flags = serializers.DictField(child=serializers.BooleanField())
    percent = serializers.DictField(child=serializers.IntegerField())


class CatalogSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    unit = serializers.CharField()
    period = serializers.CharField()
    validity_days = serializers.IntegerField(allow_null=True)
    entitlements = serializers.DictField(
        help_text="per tier code: quantity/unlimited, money_cap, hours/per_month_limit or enabled/percent"
    )
