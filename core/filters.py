"""Applying a django-filter FilterSet in a selector: bad filter values are a 400 naming each filter."""

import django_filters

from .errors import InvalidInput
from .forms import BoundedDateFormField


def filtered(filterset):
    """The filtered queryset, or InvalidInput naming every bad filter."""
    if not filterset.is_valid():
        raise InvalidInput(
            "Invalid filter: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()),
            fields={k: list(v) for k, v in filterset.errors.items()},
        )
    return filterset.qs


class BoundedDateFilter(django_filters.DateFilter):
    """A date filter with the input bounds (core.forms.BoundedDateFormField): ASCII digits, within the horizon."""

    field_class = BoundedDateFormField
