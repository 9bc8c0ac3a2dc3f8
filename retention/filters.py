import django_filters
from django.db.models import QuerySet

from core.filters import BoundedDateFilter

from . import rules
from .models import CaseState, ReasonCategory, RetentionCase


class CaseFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, label="state (repeat for several)")
    open = django_filters.BooleanFilter(method="filter_open", label="open (true) or closed (false) cases")
    manager = django_filters.CharFilter(field_name="manager__employee_no", label="manager employee number")
    msisdn = django_filters.CharFilter(field_name="customer__msisdn")
    region = django_filters.CharFilter(field_name="customer__region__code", label="region code")
    reason_category = django_filters.ChoiceFilter(choices=ReasonCategory.choices)
    opened_after = BoundedDateFilter(field_name="opened_at", lookup_expr="date__gte", label="opened on or after")
    opened_before = BoundedDateFilter(field_name="opened_at", lookup_expr="date__lte", label="opened on or before")

    class Meta:
        model = RetentionCase
        fields = ["state", "open", "manager", "msisdn", "region", "reason_category", "opened_after", "opened_before"]

    def filter_open(self, qs: QuerySet, name: str, value) -> QuerySet:
        if value is None:
            return qs
        return qs.exclude(state__in=rules.TERMINAL) if value else qs.filter(state__in=rules.TERMINAL)
