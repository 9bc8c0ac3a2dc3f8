"""Reads of the customers app."""

import datetime as dt
import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Reverse
from django.db.models.lookups import StartsWith

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


def bill_lines_problems(table: str) -> list[tuple[int, str]]:
    """The problems across the lines staged in `table` by customers.services.bill_lines_stage, as bill_rows_check names them
    in a bulk request (line numbers for row numbers): an unknown customer, or the customer and month of an earlier
    line (of a known customer). (line, message), in line order."""
    customers = Customer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT x.line, x.msisdn, x.first, c.id IS NULL FROM (
                    SELECT line, msisdn, MIN(line) OVER (PARTITION BY msisdn, month) AS first FROM {table}
                ) x LEFT JOIN {customers} c ON c.msisdn = x.msisdn
                WHERE c.id IS NULL OR x.line <> x.first ORDER BY x.line"""
        )
        return [
            (
                line,
                f"msisdn: Unknown customer {msisdn}."
                if unknown
                else f"msisdn: Duplicate of line {first} of this file.",
            )
            for line, msisdn, first, unknown in cursor.fetchall()
        ]


def region_codes(codes) -> set[str]:
    return set(Region.objects.filter(code__in=list(codes)).values_list("code", flat=True))


def closed_months() -> list[dt.date]:
    return list(BillingMonth.objects.filter(closed_at__isnull=False).values_list("month", flat=True))


def month_is_closed(month: dt.date) -> bool:
    return BillingMonth.objects.filter(month=month, closed_at__isnull=False).exists()


MASKED_MSISDN = re.compile(r"^(1\d{2})\*{4}(\d{4})$")


def msisdn_ends_with(digits: str) -> Q:
    """The numbers ending in `digits`, asked as `reverse(msisdn) LIKE '<digits reversed>%'`: on PostgreSQL the
    index on the reversed number (cust_msisdn_reverse_idx, customers 0006) finds them, where `LIKE '%<digits>'`
    read the whole table. SQLite (no such index) runs the same query through Django's REVERSE function."""
    return Q(StartsWith(Reverse("msisdn"), digits[::-1]))


ID_NUMBER = re.compile(r"^(\d{17}[\dX]|\d{15})$")


def customer_search_q(term: str, *, pii: bool) -> Q | None:
    """The customers a staff search term finds, as a filter (None: the term finds nobody):

    - a full msisdn `13412347065`: that customer;
    - the masked form a list shows, `134****7065`: the numbers with that head and tail;
    - the last 4 to 10 digits, `7065` (or `****7065`): the numbers ending so;
    - an ID number (18 characters, or 15 digits): only for staff who see personal data (`pii`), else nobody;
    - anything else: the start of a name."""
    name = (term or "").strip()
    term = re.sub(r"[\s\-]", "", name).upper()
    if not term:
        return Q()
    if re.fullmatch(r"1\d{10}", term):
        return Q(msisdn=term)
    if masked := MASKED_MSISDN.fullmatch(term):
        return Q(msisdn__startswith=masked[1]) & msisdn_ends_with(masked[2])
    if tail := re.fullmatch(r"\**(\d{4,10})", term):
        return msisdn_ends_with(tail[1])
    if ID_NUMBER.fullmatch(term):
        return Q(id_number=term) if pii else None
    return Q(name__startswith=name)
