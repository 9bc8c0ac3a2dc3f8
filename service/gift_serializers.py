from rest_framework import serializers

from core.fields import BoundedDateTimeField, InputSerializer, IntegerField, ListMsisdnField
from customers.serializers import MsisdnField

from . import gift_rules
from .models import Gift, GiftDelivery, GiftOrder, GiftOrderState, GiftOrderStep


class GiftSerializer(serializers.ModelSerializer):
    gift = serializers.CharField(source="code")
    tiers = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()

    class Meta:
        model = Gift
        fields = ["gift", "name_zh", "name_en", "points", "stock", "tiers", "deliveries", "voucher_valid_days"]

    def get_tiers(self, obj) -> list[str]:
        """the tiers that may order it; empty: every member"""
        return sorted(t.code for t in obj.tiers.all())

    def get_deliveries(self, obj) -> list[str]:
        return list(obj.deliveries())


class GiftOrderPlaceSerializer(InputSerializer):
    msisdn = MsisdnField()
    gift = serializers.SlugField(max_length=40, help_text="the gift's code (GET /gifts/)")
    quantity = IntegerField(min_value=1, max_value=100)
    delivery = serializers.ChoiceField(choices=GiftDelivery.choices)


class GiftOrderPlacedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField(help_text="points redeemed (price × quantity)")
    balance = serializers.IntegerField(help_text="her points after the order")
    status = serializers.CharField()
    voucher_valid_until = serializers.DateField(allow_null=True)


class GiftOrderTransitionSerializer(InputSerializer):
    to = serializers.ChoiceField(choices=GiftOrderState.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    occurred_at = BoundedDateTimeField(
        past=True, required=False, allow_null=True, default=None, help_text="default: now; not in the future"
    )


class GiftVoucherExtendSerializer(InputSerializer):
    until = serializers.DateField(help_text="the new redemption deadline, after the current one")
    reason = serializers.CharField(max_length=2000)


class GiftOrderStepSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="actor_label")

    class Meta:
        model = GiftOrderStep
        fields = ["action", "from_state", "to_state", "by", "at", "note"]


class GiftOrderSerializer(serializers.ModelSerializer):
    msisdn = ListMsisdnField(source="customer.msisdn")
    region = serializers.CharField(source="region.code")
    gift = serializers.CharField(source="gift.code")
    status = serializers.CharField(source="state")
    allowed_transitions = serializers.SerializerMethodField()
    history = GiftOrderStepSerializer(source="steps", many=True)

    class Meta:
        model = GiftOrder
        fields = [
            "id",
            "msisdn",
            "region",
            "gift",
            "quantity",
            "points",
            "delivery",
            "status",
            "allowed_transitions",
            "placed_at",
            "shipped_at",
            "arrived_at",
            "collected_at",
            "mailed_at",
            "received_at",
            "cancelled_at",
            "voucher_valid_until",
            "history",
        ]

    def get_allowed_transitions(self, obj) -> list[str]:
        return list(gift_rules.allowed_transitions(obj.delivery, obj.state))
