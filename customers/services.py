"""Every write of the customers app. Keyword-only, atomic, with the acting user or system."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import bounds, dates, sql
from core.actors import actor_label, record
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
from .signals import customers_changed_branch

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


@transaction.atomic
def region_upsert(*, code: str, name: str, province: str, actor=None) -> tuple[Region, bool]:
    region, created = Region.objects.update_or_create(code=code, defaults={"name": name, "province": province})
    record(actor=actor, action="region_upserted", target=region, name=name, province=province, created=created)
    return region, created


@transaction.atomic
def customers_bulk_upsert(*, rows: list[dict], on: dt.date | None = None) -> tuple[int, int]:
    """Create or update customers by msisdn in one atomic pass. Rows are validated dicts whose
    `region` is a region code that exists. Returns (created, updated). Existing customers whose region changes
    are announced (`customers_changed_branch`, with `on`, the day of the change) when `on` is given; without it,
    the daily job's check follows them."""
    msisdns = [r["msisdn"] for r in rows]
    before = dict(Customer.objects.filter(msisdn__in=msisdns).values_list("msisdn", "region_id"))
    existing = set(before)
    region_ids = dict(Region.objects.filter(code__in={r["region"] for r in rows}).values_list("code", "id"))
    objs = []
    for r in sorted(rows, key=lambda r: r["msisdn"]):  # the upsert locks rows in this order (core.db)
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
            sorted(
                (
                    PlanPeriod(customer_id=ids[m], plan_code=o.plan_code, started_on=o.plan_started_on)
                    for m, o in with_plan.items()
                ),
                key=lambda p: (p.customer_id, p.started_on),
            ),
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["customer", "started_on"],
            update_fields=["plan_code"],
        )
    moved = [r["msisdn"] for r in rows if r["msisdn"] in before and before[r["msisdn"]] != region_ids[r["region"]]]
    if moved and on is not None:
        ids = list(Customer.objects.filter(msisdn__in=moved).order_by("id").values_list("id", flat=True))
        customers_changed_branch.send(sender=Customer, customer_ids=ids, on=on)
    return len(rows) - len(existing), len(existing)


@dataclass
class BillsResult:
    created: int = 0
    updated: int = 0
    changed: int = 0  # bills whose amount changed (new ones included): listed in the BILL_CHANGES table


BILLS_STAGE = "customers_bills_stage"
BILLS_STAGE_COLUMNS = "customer_id bigint, month date, amount numeric(12, 2), paid boolean"  # as the bills table
# The bills whose amount the last upsert of this transaction changed (new bills included), for the caller's next
# statements (the points earning reads it as its key table): customer_id, month, previous (NULL: new), amount.
# A temporary table: PostgreSQL drops it at the commit, the next upsert replaces it.
BILL_CHANGES = "customers_bill_changes"


@transaction.atomic
def bills_bulk_upsert(*, rows: list[dict]) -> BillsResult:
    """Create or correct monthly bills. Rows: {customer_id, month (date), amount (Decimal), paid}.

    Set-based, whatever the number of rows: the rows are staged in a temporary table (PostgreSQL: one COPY), then
    `bills_upsert_staged` (the bills whose amount changed are left in BILL_CHANGES)."""
    with connection.cursor() as cursor:
        sql.load_temp_table(
            cursor,
            BILLS_STAGE,
            BILLS_STAGE_COLUMNS,
            ((r["customer_id"], r["month"], r["amount"], r["paid"]) for r in rows),
        )
    return bills_upsert_staged()


@transaction.atomic
def bills_upsert_staged() -> BillsResult:
    """Upsert the bills staged in BILLS_STAGE (one row per customer and month; dropped after), set-based: the
    existing bills among them locked and read (PostgreSQL: each by a probe of its key), the bills whose amount
    changes listed in BILL_CHANGES (new bills included), then all upserted by one `INSERT … SELECT … ON CONFLICT` —
    both in (customer id, month) order: two uploads of the same customers in any order take their locks in one order
    and never deadlock (core.db). No row goes through Python."""
    p = sql.Params()
    d = p.d
    bills = MonthlyBill._meta.db_table
    result = BillsResult()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BILL_CHANGES}")
        cursor.execute(
            d.temp_table(BILL_CHANGES, "customer_id bigint, month date, previous numeric(12, 2), amount numeric(12, 2)")
        )
        changes = f"""INSERT INTO {BILL_CHANGES} (customer_id, month, previous, amount)
                SELECT s.customer_id, s.month, old.amount, s.amount FROM {BILLS_STAGE} s
                LEFT JOIN old ON old.customer_id = s.customer_id AND old.month = s.month
                WHERE old.amount {d.distinct} s.amount ORDER BY s.customer_id, s.month"""
        if d.postgres:  # one statement: lock the existing bills (in key order), list the changes, count
            # Each staged bill's row by one probe of the (customer, month) key, locked as the probes come (the staged
            # rows in key order), whatever the statistics say: planned as a join, a new month's second push (the
            # statistics knew no bill of the month, so one was expected) joined on the month alone and compared
            # every staged bill with every bill of the month: 100k × 100k, over 7 minutes at 10M customers.
            old = f"""SELECT b.customer_id, b.month, b.amount
                      FROM (SELECT customer_id, month FROM {BILLS_STAGE} ORDER BY customer_id, month) s
                      CROSS JOIN LATERAL (
                          SELECT b.customer_id, b.month, b.amount FROM {bills} b
                          WHERE b.customer_id = s.customer_id AND b.month = s.month FOR UPDATE
                      ) b"""
            cursor.execute(
                f"""WITH old AS MATERIALIZED ({old}),
                    ch AS ({changes} RETURNING 1)
                    SELECT (SELECT COUNT(*) FROM {BILLS_STAGE}), (SELECT COUNT(*) FROM old),
                           (SELECT COUNT(*) FROM ch)""",
                p,
            )
            staged, result.updated, result.changed = cursor.fetchone()
            # its statistics: the earning joins the entries to it (unanalysed, a 10-bill push read every entry)
            cursor.execute(f"ANALYZE {BILL_CHANGES}")
        else:  # SQLite locks the database for the transaction's first write
            old = f"""SELECT b.customer_id, b.month, b.amount FROM {bills} b
                      JOIN {BILLS_STAGE} s ON s.customer_id = b.customer_id AND s.month = b.month"""
            cursor.execute(f"WITH old AS ({old}) {changes}", p)
            cursor.execute(
                f"SELECT (SELECT COUNT(*) FROM {BILLS_STAGE}), (SELECT COUNT(*) FROM ({old}) x), "
                f"(SELECT COUNT(*) FROM {BILL_CHANGES})"
            )
            staged, result.updated, result.changed = cursor.fetchone()
        result.created = staged - result.updated
        if staged:
            cursor.execute(
                f"""INSERT INTO {bills} (customer_id, month, amount, paid, updated_at)
                    SELECT customer_id, month, amount, paid, {d.now} FROM {BILLS_STAGE}
                    WHERE true ORDER BY customer_id, month
                    ON CONFLICT (customer_id, month) DO UPDATE SET
                        amount = excluded.amount, paid = excluded.paid, updated_at = excluded.updated_at""",
                p,
            )
        cursor.execute(f"DROP TABLE {BILLS_STAGE}")
    return result


BILL_LINES = "customers_bill_lines"  # an import file's valid lines, before the msisdns are resolved


def bill_lines_stage(lines) -> None:
    """Stage an import file's validated bill lines, (line number, msisdn, month, amount, paid) tuples from any
    iterable (a generator streams: PostgreSQL COPYs each row as it comes, nothing is held), in BILL_LINES; see
    customers.selectors.bill_lines_problems, then bills_stage_from_lines."""
    with connection.cursor() as cursor:
        sql.load_temp_table(
            cursor,
            BILL_LINES,
            "line integer, msisdn varchar(11), month date, amount numeric(12, 2), paid boolean",
            lines,
        )


def bills_stage_from_lines() -> None:
    """BILLS_STAGE from the staged lines, the msisdns resolved to customers (one join); BILL_LINES dropped."""
    d = sql.dialect()
    customers = Customer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BILLS_STAGE}")
        cursor.execute(
            d.temp_create(BILLS_STAGE)
            + f"""SELECT c.id AS customer_id, s.month, s.amount, s.paid FROM {BILL_LINES} s
                  JOIN {customers} c ON c.msisdn = s.msisdn"""
        )
        cursor.execute(f"DROP TABLE {BILL_LINES}")
        if d.postgres:
            cursor.execute(f"ANALYZE {BILLS_STAGE}")


def bill_changes() -> list[tuple[int, dt.date, Decimal | None, Decimal]]:
    """The rows of BILL_CHANGES (customer id, month, previous amount or None, new amount), in key order: what the
    last upsert of this transaction changed."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id, month, previous, amount FROM {BILL_CHANGES} ORDER BY customer_id, month")
        return [
            (c, _date(m), None if previous is None else _decimal(previous), _decimal(amount))
            for c, m, previous, amount in cursor.fetchall()
        ]


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _decimal(value) -> Decimal:
    """A bill amount read by raw SQL: SQLite answers a number (float), PostgreSQL a Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(Decimal("0.01"))


@transaction.atomic
def billing_month_close(*, month: dt.date, at: dt.datetime, on: dt.date | None = None, actor=None) -> BillingMonth:
    """Mark a billing month closed at `at` (all its bills are in), refused before it has ended on `on` (default:
    `at`'s day). Closing it again returns the first closure."""
    on = on or timezone.localdate(at)
    try:
        bounds.check_month(month)  # a month near the calendar's end has no next month to end in
    except bounds.BoundsError as exc:
        raise InvalidInput(str(exc), fields={"month": [str(exc)]}) from None
    if dates.add_months(month, 1) > on:
        raise RuleViolation(
            f"Billing month {dates.month_str(month)} has not ended yet on {on.isoformat()}.",
            code="month_not_over",
        )
    billing_month, _ = BillingMonth.objects.select_for_update().get_or_create(month=month)
    if billing_month.closed_at is None:
        billing_month.closed_at = at
        billing_month.save(update_fields=["closed_at"])
        record(actor=actor, action="billing_month_closed", target=billing_month, at=billing_month.closed_at)
    return billing_month


@transaction.atomic
def customer_holiday_opt_out_set(
    *, customer: Customer, opted_out: bool, at: dt.datetime, actor, reason: str = ""
) -> bool:
    """Record the customer's choice about the holiday no-suspension (DOMAIN §10: 节假日免停机 "unless they opted
    out"); returns whether it changed. The caller (points.services.holiday_opt_out_set) tells the partner systems."""
    customer = customer_lock(customer)
    if customer.holiday_opt_out == opted_out:
        return False
    Customer.objects.filter(pk=customer.pk).update(holiday_opt_out=opted_out, updated_at=at)
    record(
        actor=actor,
        action="holiday_opt_out" if opted_out else "holiday_opt_in",
        target=customer,
        at=at,
        reason=(reason or "")[:200],
    )
    return True


def customer_lock(customer: Customer | int) -> Customer:
    """The customer, read again and locked until the end of the transaction: the first lock of every write that
    changes her state (the lock order in core.db), so that such writes for one customer run one after the other.
    `FOR NO KEY UPDATE` on PostgreSQL: inserting a row that merely references her (a ledger entry, a bill's
    points account) does not wait for it. Locking her again in the same transaction is free. Must run inside a
    transaction."""
    pk = customer if isinstance(customer, int) else customer.pk
    return Customer.objects.select_for_update(no_key=_no_key()).get(pk=pk)


def customers_lock(customer_ids) -> list[int]:
    """Lock many customers in id order (the lock order in core.db); returns the ids that exist."""
    ids = sorted(set(customer_ids))
    return list(
        Customer.objects.select_for_update(no_key=_no_key())
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _no_key() -> bool:
    return connection.features.has_select_for_no_key_update


def _lifecycle_seen(customer: Customer, at: dt.datetime) -> list[str]:
    if customer.lifecycle_at is None or at > customer.lifecycle_at:
        customer.lifecycle_at = at
        return ["lifecycle_at"]
    return []


@transaction.atomic
def customer_lifecycle_seen(*, customer: Customer, at: dt.datetime, suspension_kind: str = "") -> Customer:
    """A lifecycle fact that changes no status (a second closure request, or an event that finds her already in its
    status): its time becomes the newest lifecycle time seen, and a suspension's kind is updated."""
    customer = customer_lock(customer)
    fields = _lifecycle_seen(customer, at)
    if suspension_kind and customer.status == "suspended" and customer.suspension_kind != suspension_kind:
        customer.suspension_kind = suspension_kind
        fields.append("suspension_kind")
    if fields:
        customer.save(update_fields=[*fields, "updated_at"])
    return customer


@transaction.atomic
def customer_transition(
    *,
    customer: Customer,
    action: str,
    kind: str = "",
    at: dt.datetime,
    actor=None,
    source: str = "",
    as_fact: bool = False,
) -> Customer:
    """Move a customer through the lifecycle of DOMAIN §2; refuse impossible moves (RuleViolation).

    `as_fact`: the move is a fact from the system of record (an event), applied from whatever status she is in
    (events in between are missing or late: the gap is in the trail), except out of `closed`."""
    customer = customer_lock(customer)
    problem = rules.transition_problem(action, customer.status, kind)
    if problem and not (as_fact and rules.fact_applies(action, customer.status)):
        raise RuleViolation(problem, code="invalid_transition")
    _, to_status = rules.TRANSITIONS[action]
    from_status = customer.status
    customer.status = to_status
    customer.suspension_kind = kind if to_status == "suspended" else ""
    customer.closure_kind = kind if to_status == "closed" else ""
    customer.status_changed_at = at
    fields = _lifecycle_seen(customer, at)
    customer.save(
        update_fields=["status", "suspension_kind", "closure_kind", "status_changed_at", *fields, "updated_at"]
    )
    StatusChange.objects.create(
        customer=customer,
        from_status=from_status,
        to_status=to_status,
        kind=kind,
        occurred_at=at,
        source=source or actor_label(actor, max_length=40),
    )
    return customer


@transaction.atomic
def customer_change_plan(*, customer: Customer, plan_code: str, started_on: dt.date, actor=None) -> Customer:
    customer = customer_lock(customer)
    PlanPeriod.objects.update_or_create(customer=customer, started_on=started_on, defaults={"plan_code": plan_code})
    latest = PlanPeriod.objects.filter(customer=customer).order_by("-started_on").first()
    customer.plan_code, customer.plan_started_on = latest.plan_code, latest.started_on
    customer.save(update_fields=["plan_code", "plan_started_on", "updated_at"])
    record(actor=actor, action="plan_changed", target=customer, plan_code=plan_code, started_on=started_on.isoformat())
    return customer


@transaction.atomic
def customer_transfer_ownership(
    *,
    customer: Customer,
    name: str,
    id_number: str,
    at: dt.datetime,
    actor=None,
    source: str = "",
) -> Customer:
    """过户: a new holder of the same account; tier, points and history stay with the account."""
    customer = customer_lock(customer)
    before = {"name": customer.name, "id_number": customer.id_number}
    customer.name, customer.id_number = name, id_number
    customer.birthday = rules.birthday_from_id_number(id_number) or customer.birthday
    customer.save(update_fields=["name", "id_number", "birthday", "updated_at"])
    CustomerChange.objects.create(
        customer=customer,
        kind=CustomerChange.Kind.OWNERSHIP,
        before=before,
        after={"name": name, "id_number": id_number},
        occurred_at=at,
        source=source or actor_label(actor, max_length=40),
    )
    return customer


@transaction.atomic
def customer_change_number(
    *, customer: Customer, new_msisdn: str, at: dt.datetime, actor=None, source: str = ""
) -> Customer:
    """改号: the account keeps everything under a new msisdn."""
    customer = customer_lock(customer)
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
        occurred_at=at,
        source=source or actor_label(actor, max_length=40),
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
    at: dt.datetime,
    actor=None,
) -> KeyPerson:
    """Record a customer's role in a corporate group; the group is created or its class updated."""
    group, created = Group.objects.get_or_create(
        code=group_code, defaults={"group_class": group_class, "name": group_name}
    )
    if not created and group.group_class != group_class:
        group.group_class = group_class
        group.save(update_fields=["group_class"])
    key_person, _ = KeyPerson.objects.get_or_create(group=group, customer=customer, role=role, defaults={"set_at": at})
    record(actor=actor, action="key_person_set", target=key_person, at=at, group=group_code, role=role)
    return key_person
