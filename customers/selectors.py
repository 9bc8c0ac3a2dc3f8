"""Reads of the customers app."""

import datetime as dt

from django.db.models import QuerySet

from core.errors import NotFoundError
from core.filters import filtered

from .models import BillingMonth, Customer, Region


def customer_get(*, msisdn: str) -> Customer:
    try:
        return Customer.objects.select_related("region").get(msisdn=msisdn)
    except Customer.DoesNotExist as exc:
        raise NotFoundError(f"No customer with msisdn {msisdn}.", code="unknown_customer") from exc


def customer_list(*, filters: dict | None = None, base: QuerySet | None = None) -> QuerySet:
    from .filters import CustomerFilter

    qs = (base if base is not None else Customer.objects.all()).select_related("region").order_by("id")
    filterset = CustomerFilter(filters or {}, queryset=qs)
    return filtered(filterset)


def customer_ids_by_msisdn(msisdns) -> dict[str, int]:
    return dict(Customer.objects.filter(msisdn__in=list(msisdns)).values_list("msisdn", "id"))


def region_codes(codes) -> set[str]:
    return set(Region.objects.filter(code__in=list(codes)).values_list("code", flat=True))


def closed_months() -> list[dt.date]:
    return list(BillingMonth.objects.filter(closed_at__isnull=False).values_list("month", flat=True))


def month_is_closed(month: dt.date) -> bool:
    return BillingMonth.objects.filter(month=month, closed_at__isnull=False).exists()
