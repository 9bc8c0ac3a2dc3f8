"""Form fields with the input bounds (core.bounds), for the admin and the pages: dates, times, months, decimals,
integers and JSON. `ADMIN_FORMFIELDS` gives them to every model admin (core.admin_site)."""

import datetime as dt
import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils.translation import gettext_lazy as _

from . import bounds, dates


def _invalid(exc: bounds.BoundsError) -> ValidationError:
    return ValidationError(str(exc), code="invalid")


def _ascii(value) -> None:
    if isinstance(value, str) and not value.isascii():
        raise ValidationError(_("Write numbers and dates with the digits 0-9."), code="invalid")


class BoundedDateFormField(forms.DateField):
    """A date (ASCII digits, the usual input formats) within the horizon; `past=True`: not after today."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(**kwargs)

    def to_python(self, value):
        _ascii(value)
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return bounds.check_date(value, not_after=bounds.today() if self.past else None)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None


class BoundedDateTimeFormField(forms.DateTimeField):
    """A date and time within the horizon; `past=True`: at most CLOCK_SKEW ahead of the server's clock."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(**kwargs)

    def to_python(self, value):
        _ascii(value)
        value = super().to_python(value)
        if value is not None:
            _check_datetime(value, self.past)
        return value


class BoundedSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date + time pair within the horizon."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(**kwargs)

    def clean(self, value):
        for part in value if isinstance(value, (list, tuple)) else [value]:
            _ascii(part)
        return super().clean(value)

    def compress(self, data_list):
        value = super().compress(data_list)
        if value is not None:
            _check_datetime(value, self.past)
        return value


def _check_datetime(value: dt.datetime, past: bool) -> None:
    try:
        bounds.check_datetime(value, skew=bounds.CLOCK_SKEW if past else None)
    except bounds.BoundsError as exc:
        raise _invalid(exc) from None


class MonthFormField(forms.CharField):
    """A month `YYYY-MM` (ASCII digits) within the horizon, as its first day; `ended=True`: a month that has ended."""

    widget = forms.TextInput(
        attrs={"placeholder": "YYYY-MM", "maxlength": 7, "inputmode": "numeric", "pattern": "[0-9]{4}-[0-9]{2}"}
    )

    def __init__(self, *, ended: bool = False, **kwargs):
        self.ended = ended
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return dates.month_str(value) if isinstance(value, dt.date) else value

    def to_python(self, value):
        if isinstance(value, dt.date):
            value = dates.month_str(value)
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return bounds.parse_month(value, ended_by=bounds.today() if self.ended else None)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None


class DecimalFormField(forms.DecimalField):
    """A decimal written out with ASCII digits (`388.50`), no exponent, within max_digits / decimal_places."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return bounds.parse_decimal(
                value,
                max_digits=self.max_digits if self.max_digits is not None else 30,
                decimal_places=self.decimal_places if self.decimal_places is not None else 10,
            )
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None


class IntegerFormField(forms.IntegerField):
    """A whole number written with ASCII digits."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return bounds.parse_integer(value.strip() if isinstance(value, str) else value)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None


class JSONFormField(forms.JSONField):
    """JSON at most JSON_MAX_DEPTH levels deep with no NUL character (Django's reads any depth, and a few
    thousand levels are a RecursionError: a 500)."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = bounds.loads_json(value, cls=self.decoder)
        except bounds.BoundsError as exc:
            raise _invalid(exc) from None
        except json.JSONDecodeError:
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value}) from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return bounds.loads_json(data, cls=self.decoder)
        except ValueError:  # malformed, too deep or a NUL: shown again as typed
            return InvalidJSONInput(data)


# What the admin's model forms use for these columns (core.admin_site), unless a model admin chooses its own.
ADMIN_FORMFIELDS = {
    models.DateField: {"form_class": BoundedDateFormField},
    models.DateTimeField: {"form_class": BoundedSplitDateTimeField},
    models.DecimalField: {"form_class": DecimalFormField},
    models.IntegerField: {"form_class": IntegerFormField},
    models.BigIntegerField: {"form_class": IntegerFormField},
    models.JSONField: {"form_class": JSONFormField},
}
