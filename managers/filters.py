import django_filters

from core.filters import BoundedDateFilter

from .models import Obligation, ObligationKind, ObligationStatus


class ObligationFilter(django_filters.FilterSet):
    msisdn = django_filters.CharFilter(field_name="customer__msisdn")
    manager = django_filters.CharFilter(field_name="manager__employee_no", label="manager employee number")
    kind = django_filters.ChoiceFilter(choices=ObligationKind.choices)
    status = django_filters.ChoiceFilter(choices=ObligationStatus.choices)
    due_before = BoundedDateFilter(field_name="due_on", lookup_expr="lte", label="due on or before")

    class Meta:
        model = Obligation
        fields = ["msisdn", "manager", "kind", "status", "due_before"]
