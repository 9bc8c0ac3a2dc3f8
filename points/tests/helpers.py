"""Building customers with bills and points for the points tests."""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from customers import services as customer_services
from customers.factories import CustomerFactory
from customers.models import MonthlyBill, Region
from points import selectors, services
from points.models import PointsAccount, PointsLot


def assert_ledger_sound() -> None:
    problems = selectors.ledger_invariant_violations()
    assert problems == [], f"ledger invariant broken: {problems}"


def region(code="GZ", province="广东", name="广州") -> Region:
    return Region.objects.get_or_create(code=code, defaults={"name": name, "province": province})[0]


def customer(**kwargs):
    kwargs.setdefault("region", region())
    return CustomerFactory(**kwargs)


def import_bills(rows: list[dict], on: dt.date | None = None):
    """What vipclub.workflows.bills_import does (the bill, then the points of the changed amounts); the
    points app's tests may not import vipclub (layers)."""
    with transaction.atomic():
        result = customer_services.bills_bulk_upsert(rows=rows)
        if result.changed:
            services.points_earn_staged(keys=customer_services.BILL_CHANGES, on=on)
    return result


def bill(customer, month: dt.date, amount, on: dt.date | None = None):
    return import_bills(
        [{"customer_id": customer.pk, "month": month, "amount": Decimal(str(amount)), "paid": True}], on
    )


def bills(customer, amounts: dict, on: dt.date | None = None):
    rows = [
        {"customer_id": customer.pk, "month": m, "amount": Decimal(str(a)), "paid": True} for m, a in amounts.items()
    ]
    return import_bills(rows, on)


def balance(customer) -> int:
    account = PointsAccount.objects.filter(customer=customer).first()
    return account.balance if account else 0


def lots(customer) -> list[tuple]:
    """[(year, kind, original, remaining, expires_on)] oldest first."""
    return list(
        PointsLot.objects.filter(customer=customer)
        .order_by("expires_on", "id")
        .values_list("year", "kind", "original", "remaining", "expires_on")
    )


def raw_bill(customer, month, amount):
    """A bill stored without earning (as loaded around the import path)."""
    return MonthlyBill.objects.create(customer=customer, month=month, amount=Decimal(str(amount)), paid=True)
