"""Building customers with bills, floors and a current tier, and running months, for the tiers tests."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from core import dates
from customers.factories import CustomerFactory, RegionFactory
from customers.models import BillingMonth, Group, KeyPerson, MonthlyBill, PlanPeriod
from tiers import rules, services
from tiers.factories import CustomerTierFactory
from tiers.models import RatingPolicy, Tier, TierOverride, TransferFloor


def close_months(first: dt.date, last: dt.date) -> None:
    month = first
    while month <= last:
        BillingMonth.objects.update_or_create(month=month, defaults={"closed_at": timezone.now()})
        month = dates.add_months(month, 1)


def monthly_bills(month: dt.date, amounts) -> dict[dt.date, Decimal]:
    """Amounts for the months just before `month`, oldest first."""
    amounts = [Decimal(str(a)) for a in amounts]
    return {dates.add_months(month, -len(amounts) + i): a for i, a in enumerate(amounts)}


def make_customer(
    *,
    join_date=dt.date(2010, 1, 1),
    bills=None,
    plan=None,
    key_roles=(),
    transfer=None,
    override=None,
    current: rules.TierState = rules.NONE,
    product_type="primary",
    status="active",
    msisdn=None,
    approver=None,
    creator=None,
):
    extra = {"msisdn": msisdn} if msisdn else {}
    customer = CustomerFactory(
        region=RegionFactory(),
        join_date=join_date,
        product_type=product_type,
        status=status,
        closure_kind="voluntary" if status == "closed" else "",
        suspension_kind="arrears" if status == "suspended" else "",
        **extra,
    )
    MonthlyBill.objects.bulk_create(
        MonthlyBill(customer=customer, month=m, amount=a, paid=True) for m, a in (bills or {}).items()
    )
    if plan:
        code, started_on = plan
        PlanPeriod.objects.create(customer=customer, plan_code=code, started_on=started_on)
        customer.plan_code, customer.plan_started_on = code, started_on
        customer.save()
    for i, (role, group_class, set_at) in enumerate(key_roles):
        group, _ = Group.objects.get_or_create(code=f"G{group_class}{i}", defaults={"group_class": group_class})
        KeyPerson.objects.create(group=group, customer=customer, role=role, set_at=set_at)
    if transfer:
        tier, moved_on = transfer
        TransferFloor.objects.create(
            customer=customer,
            tier=Tier.objects.get(code=tier),
            from_region="XX",
            moved_on=moved_on,
            kept_until=dt.date(moved_on.year, 12, 31),
        )
    if override:
        tier, starts, ends = override
        TierOverride.objects.create(
            customer=customer,
            tier=Tier.objects.get(code=tier),
            reason="test",
            starts_on=starts,
            ends_on=ends,
            status="approved",
            created_by=creator,
            approved_by=approver,
            approved_at=timezone.now(),
        )
    if current.tier:
        CustomerTierFactory(
            customer=customer,
            code=current.tier,
            source=current.source,
            valid_until=current.valid_until,
            since=dt.date(2000, 1, 1),
            score_tier=Tier.objects.get(code=current.score_tier) if current.score_tier else None,
            score_valid_until=current.score_valid_until,
        )
    return customer


def population(n: int = 12, month: dt.date = dt.date(2026, 12, 1)):
    """Customers of every kind of outcome of `month`'s run: joins, upgrades, holds, downgrades, leaves."""
    people = []
    for i in range(n):
        spend = [50, 90, 180, 350][i % 4] + i
        current = [
            rules.NONE,
            rules.TierState("gold", "score", dt.date(2026, 11, 30)),
            rules.TierState("silver", "score", dt.date(2027, 6, 30)),
            rules.TierState("gold", "plan", None),
        ][i % 4]
        people.append(
            make_customer(join_date=dt.date(2012, 1, 1), bills=monthly_bills(month, [spend] * 12), current=current)
        )
    return people


def state_of(customer) -> rules.TierState:
    return services.current_state(customer)


def run_month(
    month: dt.date,
    *,
    policy: RatingPolicy | None = None,
    dry_run=False,
    draft=None,
    chunk_size=None,
    settings=None,
    close=True,
):
    """Run `month` inline (forced), the 24 months before it closed unless close=False."""
    if close:
        close_months(dates.add_months(month, -24), dates.add_months(month, -1))
    if settings is not None and chunk_size:
        settings.VIPCLUB_RATING_CHUNK_SIZE = chunk_size
    run, _ = services.tier_run_start(
        month=month, policy=policy, dry_run=dry_run, force=True, draft=draft, dispatch=False
    )
    return services.tier_run_execute(run=run)


def annual_policy() -> RatingPolicy:
    return RatingPolicy.objects.get(code="annual")


def average_policy(**changes) -> RatingPolicy:
    policy = RatingPolicy.objects.get(code="average6")
    for key, value in changes.items():
        setattr(policy, key, value)
    policy.save()
    return policy


def policy_form_data(policy, *, effective_month: str = "", note: str = "", **overrides) -> dict:
    """The POST of a rating policy's page (tiers.policy_admin) with the policy's current values, then `overrides`
    (field names of the page: `threshold_<tier>`, `bonus-0-years`, `plan-1-tier`, …)."""
    from tiers.policy_admin import TABLES, table_initial

    data = {
        "name": policy.name,
        "name_zh": policy.name_zh,
        "kind": policy.kind,
        "run_day": policy.run_day,
        "window_months": policy.window_months,
        "min_tenure_months": policy.min_tenure_months,
        "validity_months": policy.validity_months,
        "expiry_day": policy.expiry_day or "",
        "effective_month": effective_month,
        "note": note,
    }
    if policy.active:
        data["active"] = "on"
    for code, value in (policy.thresholds or {}).items():
        data[f"threshold_{code}"] = str(value)
    initial = table_initial(policy)
    for name, (_form, prefix) in TABLES.items():
        rows = initial[name]
        data.update({f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)})
        data.update({f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 50})
        for i, row in enumerate(rows):
            data.update({f"{prefix}-{i}-{key}": "" if value is None else value for key, value in row.items()})
    data.update(overrides)
    return data
