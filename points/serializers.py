"""Validation and output of the points API (API.md) and of the `moved_in` event's data."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core import bounds
from core.fields import BoundedDateField, InputSerializer, IntegerField, MonthField
from customers.serializers import MsisdnField


class RedemptionSerializer(InputSerializer):
    msisdn = MsisdnField()
    points = IntegerField(min_value=1, max_value=10**12)
    reference = serializers.CharField(max_length=100, help_text=_("the caller's reference (order, voucher)"))


class RedemptionResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("the ledger entry"))
    balance = serializers.IntegerField()


class TransferSerializer(InputSerializer):
    from_msisdn = MsisdnField()
    to_msisdn = MsisdnField()
    points = IntegerField(min_value=1, max_value=10**12)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["from_msisdn"] == attrs["to_msisdn"]:
            raise serializers.ValidationError({"to_msisdn": [_("Points cannot be transferred to the same number.")]})
        return attrs


class TransferResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("the ledger entry of the sender"))
    from_balance = serializers.IntegerField()
    to_balance = serializers.IntegerField()


class LotSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    remaining = serializers.IntegerField()
    expires_on = serializers.DateField()


class MonthConsumptionSerializer(serializers.Serializer):
    month = MonthField()
    points = serializers.IntegerField()


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = serializers.DateField()


class CustomerPointsSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    frozen = serializers.BooleanField()
    lots = LotSerializer(many=True, help_text=_("lots holding points, per year, oldest first"))
    year_consumption = serializers.IntegerField(help_text=_("consumption points of this year's bills"))
    total_consumption = serializers.IntegerField()
    month_consumption = MonthConsumptionSerializer(many=True, help_text=_("this year, per bill month"))
    expiring_this_year = ExpiringSerializer()


class PointsBriefSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    frozen = serializers.BooleanField()


class PointsLotInSerializer(InputSerializer):
    year = IntegerField(min_value=1990, help_text="a year that has begun")
    points = IntegerField(min_value=1, max_value=10**12)

    def validate_year(self, value):
        if value > bounds.today().year:
            raise serializers.ValidationError(_("Points cannot have been earned in a year to come."))
        return value


class MovedInDataSerializer(InputSerializer):
    """`moved_in {from_region, tier, points_lots: [{year, points}]}` (跨区入网); `join_date` optionally carries
    the original join date over (tenure counts from it)."""

    from_region = serializers.CharField(max_length=50)
    tier = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True, default="")
    points_lots = PointsLotInSerializer(many=True, required=False, default=list)
    join_date = BoundedDateField(past=True, required=False, allow_null=True, default=None)


class PrivilegesSerializer(serializers.Serializer):
    """API.md `GET /customers/{msisdn}/privileges/` (DOMAIN §10), also the data of `privileges.changed`."""

    holiday_no_suspension = serializers.BooleanField(
        help_text=_("not suspended for arrears on statutory holidays (节假日免停机): members")
    )
    delayed_suspension_hours = serializers.IntegerField(
        help_text=_("hours a suspension for arrears is delayed (延迟停机), by credit stars; 0: none")
    )
    credit_reactivation_hours = serializers.IntegerField(
        help_text=_("hours of reactivation on credit (信用开机), by credit stars; 0: none")
    )
    priority_hotline = serializers.BooleanField(help_text=_("the priority hotline queue: members"))
    priority_hall = serializers.BooleanField(help_text=_("the priority queue in the halls: members"))
