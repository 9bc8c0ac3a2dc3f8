"""Every write of the customers app. Keyword-only, atomic, with the acting user or system."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import bounds
from core.errors import InvalidInput, RuleViolation

from . import rules
from .models import (
    BillingMonth,
    Customer,
    CustomerChange,
    Group,
    KeyPerson,
    MonthlyBill,
    PlanPeriod,
    Region,
    StatusChange,
)

CUSTOMER_BULK_FIELDS = (
    "name",
    "id_number",
    "birthday",
    "join_date",
    "brand",
    "product_type",
    "plan_code",
    "plan_started_on",
    "landline",
)


def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    return str(getattr(actor, "username", actor))[:40]


@transaction.atomic
def region_upsert(*, code: str, name: str, province: str, actor=None) -> tuple[Region, bool]:
    region, created = Region.objects.update_or_create(code=code, defaults={"name": name, "province": province})
    return region, created


@transaction.atomic
def customers_bulk_upsert(*, rows: list[dict], actor=None) -> tuple[int, int]:
    """Create or update customers by msisdn in one atomic pass. Rows are validated dicts whose
    `region` is a region code that exists. Returns (created, updated)."""
    msisdns = [r["msisdn"] for r in rows]
    existing = set(Customer.objects.filter(msisdn__in=msisdns).values_list("msisdn", flat=True))
    region_ids = dict(Region.objects.filter(code__in={r["region"] for r in rows}).values_list("code", "id"))
    objs = []
    for r in rows:
        values = {f: r.get(f) for f in CUSTOMER_BULK_FIELDS}
        for text_field in ("plan_code", "landline"):
            values[text_field] = values[text_field] or ""
        if values["plan_code"] and not values["plan_started_on"]:
            values["plan_started_on"] = values["join_date"]
        if not values["birthday"]:
            values["birthday"] = rules.birthday_from_id_number(values["id_number"])
        objs.append(Customer(msisdn=r["msisdn"], region_id=region_ids[r["region"]], **values))
    Customer.objects.bulk_create(
        objs,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["msisdn"],
        update_fields=[*CUSTOMER_BULK_FIELDS, "region", "updated_at"],
    )
    with_plan = {o.msisdn: o for o in objs if o.plan_code}
    if with_plan:
        ids = dict(Customer.objects.filter(msisdn__in=list(with_plan)).values_list("msisdn", "id"))
        PlanPeriod.objects.bulk_create(
            [
                PlanPeriod(customer_id=ids[m], plan_code=o.plan_code, started_on=o.plan_started_on)
                for m, o in with_plan.items()
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["customer", "started_on"],
            update_fields=["plan_code"],
        )
    return len(rows) - len(existing), len(existing)


@dataclass
class BillsResult:
    created: int = 0
    updated: int = 0
    # (customer_id, month, previous amount or None, new amount) for every bill whose amount changed
    amount_changes: list[tuple[int, dt.date, Decimal | None, Decimal]] = field(default_factory=list)


@transaction.atomic
def bills_bulk_upsert(*, rows: list[dict], actor=None) -> BillsResult:
    """Create or correct monthly bills. Rows: {customer_id, month (date), amount (Decimal), paid}."""
    result = BillsResult()
    customer_ids = {r["customer_id"] for r in rows}
    months = {r["month"] for r in rows}
    current = {
        (c, m): a
        for c, m, a in MonthlyBill.objects.select_for_update()
        .filter(customer_id__in=customer_ids, month__in=months)
        .values_list("customer_id", "month", "amount")
    }
    for r in rows:
        key = (r["customer_id"], r["month"])
        previous = current.get(key)
        if key in current:
            result.updated += 1
        else:
            result.created += 1
        if previous != r["amount"]:
            result.amount_changes.append((r["customer_id"], r["month"], previous, r["amount"]))
    MonthlyBill.objects.bulk_create(
        [MonthlyBill(customer_id=r["customer_id"], month=r["month"], amount=r["amount"], paid=r["paid"]) for r in rows],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["customer", "month"],
        update_fields=["amount", "paid", "updated_at"],
    )
    return result


@transaction.atomic
def billing_month_close(*, month: dt.date, as_of: dt.date | None = None, actor=None) -> BillingMonth:
    """Mark a billing month closed (all its bills are in). Closing it again returns the first closure."""
    as_of = as_of or timezone.localdate()
    try:
        bounds.check_month(month)  # a month near the calendar's end has no next month to end in
    except bounds.BoundsError as exc:
        raise InvalidInput(str(exc), fields={"month": [str(exc)]}) from None
    if rules.add_months(month, 1) > as_of:
        raise RuleViolation(
            f"Billing month {rules.month_str(month)} has not ended yet on {as_of.isoformat()}.",
            code="month_not_over",
        )
    billing_month, _ = BillingMonth.objects.select_for_update().get_or_create(month=month)
    if billing_month.closed_at is None:
        billing_month.closed_at = timezone.now()
        billing_month.save(update_fields=["closed_at"])
    return billing_month


def _locked(customer: Customer) -> Customer:
    return Customer.objects.select_for_update().get(pk=customer.pk)


@transaction.atomic
def customer_transition(
    *,
    customer: Customer,
    action: str,
    kind: str = "",
    at: dt.datetime | None = None,
    actor=None,
    source: str = "",
) -> Customer:
    """Move a customer through the lifecycle of DOMAIN §2; refuse impossible moves (RuleViolation)."""
    customer = _locked(customer)
    problem = rules.transition_problem(action, customer.status, kind)
    if problem:
        raise RuleViolation(problem, code="invalid_transition")
    at = at or timezone.now()
    _, to_status = rules.TRANSITIONS[action]
    from_status = customer.status
    customer.status = to_status
    customer.suspension_kind = kind if to_status == "suspended" else ""
    customer.closure_kind = kind if to_status == "closed" else ""
    customer.status_changed_at = at
    customer.save(update_fields=["status", "suspension_kind", "closure_kind", "status_changed_at", "updated_at"])
    StatusChange.objects.create(
        customer=customer,
        from_status=from_status,
        to_status=to_status,
        kind=kind,
        occurred_at=at,
        source=source or _actor_label(actor),
    )
    return customer


@transaction.atomic
def customer_change_plan(*, customer: Customer, plan_code: str, started_on: dt.date, actor=None) -> Customer:
    customer = _locked(customer)
    PlanPeriod.objects.update_or_create(customer=customer, started_on=started_on, defaults={"plan_code": plan_code})
    latest = PlanPeriod.objects.filter(customer=customer).order_by("-started_on").first()
    customer.plan_code, customer.plan_started_on = latest.plan_code, latest.started_on
    customer.save(update_fields=["plan_code", "plan_started_on", "updated_at"])
    return customer


@transaction.atomic
def customer_transfer_ownership(
    *,
    customer: Customer,
    name: str,
    id_number: str,
    at: dt.datetime | None = None,
    actor=None,
    source: str = "",
) -> Customer:
    """过户: a new holder of the same account; tier, points and history stay with the account."""
    customer = _locked(customer)
    before = {"name": customer.name, "id_number": customer.id_number}
    customer.name, customer.id_number = name, id_number
    customer.birthday = rules.birthday_from_id_number(id_number) or customer.birthday
    customer.save(update_fields=["name", "id_number", "birthday", "updated_at"])
    CustomerChange.objects.create(
        customer=customer,
        kind=CustomerChange.Kind.OWNERSHIP,
        before=before,
        after={"name": name, "id_number": id_number},
        occurred_at=at or timezone.now(),
        source=source or _actor_label(actor),
    )
    return customer


@transaction.atomic
def customer_change_number(
    *, customer: Customer, new_msisdn: str, at: dt.datetime | None = None, actor=None, source: str = ""
) -> Customer:
    """改号: the account keeps everything under a new msisdn."""
    customer = _locked(customer)
    if Customer.objects.filter(msisdn=new_msisdn).exclude(pk=customer.pk).exists():
        raise RuleViolation(f"The msisdn {new_msisdn} belongs to another customer.", code="msisdn_exists")
    before = {"msisdn": customer.msisdn}
    customer.msisdn = new_msisdn
    try:
        with transaction.atomic():
            customer.save(update_fields=["msisdn", "updated_at"])
    except IntegrityError as exc:
        raise RuleViolation(f"The msisdn {new_msisdn} belongs to another customer.", code="msisdn_exists") from exc
    CustomerChange.objects.create(
        customer=customer,
        kind=CustomerChange.Kind.NUMBER,
        before=before,
        after={"msisdn": new_msisdn},
        occurred_at=at or timezone.now(),
        source=source or _actor_label(actor),
    )
    return customer


@transaction.atomic
def key_person_set(
    *,
    customer: Customer,
    group_code: str,
    group_class: str,
    role: str,
    group_name: str = "",
    at: dt.datetime | None = None,
    actor=None,
) -> KeyPerson:
    """Record a customer's role in a corporate group; the group is created or its class updated."""
    group, created = Group.objects.get_or_create(
        code=group_code, defaults={"group_class": group_class, "name": group_name}
    )
    if not created and group.group_class != group_class:
        group.group_class = group_class
        group.save(update_fields=["group_class"])
    key_person, _ = KeyPerson.objects.get_or_create(
        group=group, customer=customer, role=role, defaults={"set_at": at or timezone.now()}
    )
    return key_person
