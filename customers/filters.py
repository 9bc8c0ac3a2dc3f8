import django_filters
from django.db.models import Q

from .models import Brand, Customer, Status


class CustomerFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code")
    status = django_filters.ChoiceFilter(choices=Status.choices)
    brand = django_filters.ChoiceFilter(choices=Brand.choices)
    search = django_filters.CharFilter(method="filter_search", label="msisdn (prefix) or name (prefix)")

    class Meta:
        model = Customer
        fields = ["region", "status", "brand", "search"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(msisdn__startswith=value)
        return queryset.filter(Q(name__startswith=value) | Q(name=value))
