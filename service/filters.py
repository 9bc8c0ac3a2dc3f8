import django_filters
from django.db.models import QuerySet

from core.filters import BoundedDateFilter

from .models import OPEN_STATES, Complaint, ComplaintCategory, ComplaintChannel, ComplaintState


class ComplaintFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        field_name="state", choices=ComplaintState.choices, label="status (repeat for several)"
    )
    open = django_filters.BooleanFilter(method="filter_open", label="open (true) or resolved/closed (false)")
    category = django_filters.ChoiceFilter(choices=ComplaintCategory.choices)
    channel = django_filters.ChoiceFilter(choices=ComplaintChannel.choices)
    msisdn = django_filters.CharFilter(field_name="customer__msisdn")
    region = django_filters.CharFilter(field_name="region__code", label="branch (region code)")
    owner = django_filters.CharFilter(field_name="owner__username", label="owner (login)")
    escalated = django_filters.BooleanFilter()
    received_after = BoundedDateFilter(field_name="received_at", lookup_expr="date__gte", label="received on or after")
    received_before = BoundedDateFilter(
        field_name="received_at", lookup_expr="date__lte", label="received on or before"
    )

    class Meta:
        model = Complaint
        fields = [
            "status",
            "open",
            "category",
            "channel",
            "msisdn",
            "region",
            "owner",
            "escalated",
            "received_after",
            "received_before",
        ]

    def filter_open(self, qs: QuerySet, name: str, value) -> QuerySet:
        if value is None:
            return qs
        return qs.filter(state__in=OPEN_STATES) if value else qs.exclude(state__in=OPEN_STATES)
