"""Serializer fields shared by the apps' APIs: masked msisdns in lists, the input bounds (core.bounds) as DRF
fields — every date, month, time, decimal and integer an API accepts goes through one of these —, and the base of
every request serializer (InputSerializer: `null`, `""` and missing all mean "none")."""

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import bounds, dates
from .masking import mask_id_number, mask_msisdn
from .permissions import sees_pii


class InputSerializer(serializers.Serializer):
    """The base of every request body (and query) serializer: an optional field sent as `null` or `""` is taken as
    left out, so its default applies (API.md: all three mean "none"). A required field keeps DRF's answer."""

    def to_internal_value(self, data):
        if hasattr(data, "items"):
            absent = [
                name
                for name, value in data.items()
                if (value is None or value == "") and name in self.fields and not self.fields[name].required
            ]
            if absent:
                data = data.copy()
                for name in absent:
                    data.pop(name)
        return super().to_internal_value(data)


class ListMsisdnField(serializers.CharField):
    """An msisdn in a list row: in clear for people (their scope rules apply) and for API clients with the `pii`
    scope, masked (`138****5678`) for other clients (issue 8). A serializer used without a request (a single
    answer to a write the client sent with that msisdn) shows it."""

    def to_representation(self, value):
        value = super().to_representation(value)
        request = self.context.get("request")
        return value if request is None or sees_pii(request) else mask_msisdn(value)


class ListIdNumberField(serializers.CharField):
    """An ID number in a list row: masked (`440106********1234`) as ListMsisdnField masks an msisdn."""

    def to_representation(self, value):
        value = super().to_representation(value)
        request = self.context.get("request")
        return value if request is None or sees_pii(request) else mask_id_number(value)


def _invalid(exc: bounds.BoundsError):
    return serializers.ValidationError(str(exc), code="invalid")


class BoundedDateField(serializers.DateField):
    """An ISO date `YYYY-MM-DD` (ASCII digits) within DATE_MIN … DATE_MAX; `past=True`: not after today."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if isinstance(value, dt.datetime):
            self.fail("datetime")
        not_after = bounds.today() if self.past else None
        try:
            if isinstance(value, dt.date):
                return bounds.check_date(value, not_after=not_after)
            return bounds.parse_date(value, not_after=not_after)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time (ASCII digits) within the horizon; `past=True`: a fact that happened, at most CLOCK_SKEW
    ahead of the server's clock."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        skew = bounds.CLOCK_SKEW if self.past else None
        try:
            if isinstance(value, dt.datetime):
                return self.enforce_timezone(bounds.check_datetime(value, skew=skew))
            if isinstance(value, str):
                return self.enforce_timezone(bounds.parse_datetime_text(value, skew=skew))
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None
        return super().to_internal_value(value)  # a date or another type: DRF's own message


@extend_schema_field(
    {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "example": "2026-10", "description": "YYYY-MM"}
)
class MonthField(serializers.CharField):
    """A month as "YYYY-MM" in and out; a date (the 1st) inside. `ended=True`: a month that has ended (a bill's)."""

    def __init__(self, *, ended: bool = False, **kwargs):
        self.ended = ended
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return bounds.parse_month(value, ended_by=bounds.today() if self.ended else None)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None

    def to_representation(self, value):
        return dates.month_str(value)


class DecimalStringField(serializers.DecimalField):
    """Money and the like: a decimal string written out with ASCII digits (`"388.50"`; a JSON integer too), no
    exponent, within max_digits / decimal_places. A JSON float is refused: its value is not the one written."""

    def to_internal_value(self, data):
        if isinstance(data, float):
            raise serializers.ValidationError('Send the number as a decimal string, e.g. "388.50".', code="invalid")
        try:
            value = bounds.parse_decimal(data, max_digits=self.max_digits, decimal_places=self.decimal_places)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None
        return self.quantize(value)


class IntegerField(serializers.IntegerField):
    """A whole number: a JSON integer or a string of ASCII digits (DRF's reads "١٠" or "１０" as 10)."""

    def to_internal_value(self, data):
        try:
            return bounds.parse_integer(data)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None
