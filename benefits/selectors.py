"""Reads of the benefits app: the catalog, a customer's balances and flags, the ledger, the usage report."""

import datetime as dt

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth

from core.errors import InvalidInput
from customers.models import Customer
from tiers.models import CustomerTier, Tier

from . import rules
from .models import Benefit, BenefitAccount, BenefitEntry, EntryKind, TierEntitlement

# Codes partner systems may still send for a benefit that was renamed (migration benefits 0004: the national and
# in-province airport lounges became one airport lounge).
RENAMED_CODES = {"lounge_airport_national": "lounge_airport"}


def benefit_get(*, code: str, field: str = "benefit") -> Benefit:
    """A benefit of the catalog by code (or by its former code); an unknown code is bad input naming `field`."""
    benefit = Benefit.objects.filter(code=RENAMED_CODES.get(code, code)).first()
    if benefit is None:
        raise InvalidInput(
            f"Unknown benefit {code!r}.", code="unknown_benefit", fields={field: [f"unknown benefit {code!r}"]}
        )
    return benefit


def catalog() -> list[dict]:
    """Every offered benefit with what each tier gets (for the API and reports)."""
    benefits = list(Benefit.objects.filter(active=True).prefetch_related("entitlements__tier"))
    rows = []
    for benefit in benefits:
        entitlements = {}
        for e in sorted(benefit.entitlements.all(), key=lambda e: -e.tier.rank):
            entitlements[e.tier.code] = _entitlement_dict(benefit, e)
        rows.append(
            {
                "code": benefit.code,
                "name_zh": benefit.name_zh,
                "name_en": benefit.name_en,
                "unit": benefit.unit,
                "period": benefit.period,
                "validity_days": benefit.validity_days,
                "entitlements": entitlements,
            }
        )
    return rows


def _entitlement_dict(benefit: Benefit, e: TierEntitlement) -> dict:
    out: dict = {}
    if benefit.unit == rules.COUNT:
        out["quantity"] = None if e.unlimited else e.quantity
        out["unlimited"] = e.unlimited
    elif benefit.unit == rules.MONEY:
        out["money_cap"] = f"{e.money_cap}" if e.money_cap is not None else None
    elif benefit.unit == rules.HOURS:
        out["hours"] = e.hours
        out["per_month_limit"] = e.per_month_limit
    else:
        out["enabled"] = True
        if e.percent is not None:
            out["percent"] = e.percent
    return out


def _entitlements_now(customer: Customer) -> tuple[Tier | None, dict[int, TierEntitlement]]:
    state = CustomerTier.objects.filter(customer=customer, tier__isnull=False).select_related("tier").first()
    if state is None or customer.status == "closed":
        return None, {}
    entitlements = TierEntitlement.objects.filter(tier_id=state.tier_id).select_related("benefit")
    return state.tier, {
        e.benefit_id: e
        for e in entitlements
        if rules.gives(tier_source=state.source, for_key_person_floor=e.benefit.for_key_person_floor)
    }


def customer_benefits(*, customer: Customer, on: dt.date) -> list[dict]:
    """The customer's benefits now: `{benefit, period_start, granted, used, remaining, unit}` per benefit (plus
    names, period, and per kind `unlimited`, `hours`, `percent`, `enabled`). Money is a decimal string in yuan.

    Periodic benefits show the account of the current year or month — or, before the period's grants have run,
    the quota the tier gives; per-event benefits show the cap per event; flags show `enabled`."""
    tier, entitlements = _entitlements_now(customer)
    keys = {
        rules.YEAR: rules.period_bounds(rules.YEAR, on),
        rules.MONTH: rules.period_bounds(rules.MONTH, on),
        rules.NONE: rules.period_bounds(rules.NONE, on),
    }
    accounts = {
        (a.benefit_id, a.period_key): a
        for a in BenefitAccount.objects.filter(customer=customer, period_key__in=[b.key for b in keys.values()])
    }
    rows = []
    for benefit in Benefit.objects.filter(active=True):
        e = entitlements.get(benefit.pk)
        unit = benefit.unit
        row = {
            "benefit": benefit.code,
            "name_zh": benefit.name_zh,
            "name_en": benefit.name_en,
            "period": benefit.period,
            "period_start": None,
            "period_end": None,
            "granted": None,
            "used": None,
            "remaining": None,
            "unit": unit,
            "unlimited": False,
        }
        if unit == rules.FLAG:
            if e is None:
                continue
            row.update(enabled=True, percent=e.percent)
            rows.append(row)
            continue
        quota = (
            rules.quota(
                unit=unit,
                quantity=e.quantity,
                money_cap=e.money_cap,
                per_month_limit=e.per_month_limit,
                unlimited=e.unlimited,
            )
            if e
            else 0
        )
        if e is not None and unit == rules.HOURS:
            row["hours"] = e.hours
        if benefit.period == rules.EVENT:
            if not quota:
                continue
            row.update(granted=quota, used=0, remaining=quota, per_event=True)
        else:
            bounds = keys[benefit.period]
            account = accounts.get((benefit.pk, bounds.key))
            row.update(period_start=bounds.start, period_end=bounds.end)
            if account is not None and (account.granted or account.used or account.unlimited or e is not None):
                row.update(granted=account.granted, used=account.used, remaining=account.remaining)
                row["unlimited"] = account.unlimited
            elif e is not None and (quota or e.unlimited):
                row.update(granted=quota, used=0, remaining=quota)
                row["unlimited"] = e.unlimited
            else:
                continue
            if row["unlimited"]:
                row.update(granted=None, remaining=None)
        for key in ("granted", "used", "remaining"):
            row[key] = rules.to_display(unit, row[key])
        rows.append(row)
    return rows


def customer_flags(*, customer: Customer) -> dict:
    """`{tier, flags: {code: bool}, percent: {code: n}}` for every flag benefit of the catalog."""
    tier, entitlements = _entitlements_now(customer)
    flags, percent = {}, {}
    for benefit in Benefit.objects.filter(active=True, unit=rules.FLAG):
        e = entitlements.get(benefit.pk)
        flags[benefit.code] = e is not None
        if e is not None and e.percent is not None:
            percent[benefit.code] = e.percent
    return {"tier": tier.code if tier else None, "flags": flags, "percent": percent}


def customer_ledger(*, customer: Customer) -> QuerySet:
    return BenefitEntry.objects.filter(customer=customer).select_related("benefit", "account", "tier").order_by("-id")


def redemptions() -> QuerySet:
    """Every redemption in the ledger (to narrow to one, and to the customers a user may address)."""
    return BenefitEntry.objects.filter(kind=EntryKind.REDEEM)


def redemption_get(*, redemption_id: int) -> BenefitEntry | None:
    return BenefitEntry.objects.filter(pk=redemption_id, kind=EntryKind.REDEEM).select_related("benefit").first()


def usage_report(*, year: int, benefit_id: int | None = None, entries: QuerySet | None = None) -> list[dict]:
    """Redemptions that stand (not reversed) per month, benefit and tier of the year: count and units used; of
    `entries` when given (a supervisor's branches: the admin's row scope)."""
    qs = (entries if entries is not None else BenefitEntry.objects.all()).filter(
        kind=EntryKind.REDEEM,
        occurred_on__gte=dt.date(year, 1, 1),
        occurred_on__lte=dt.date(year, 12, 31),
        reversal__isnull=True,
    )
    if benefit_id:
        qs = qs.filter(benefit_id=benefit_id)
    return list(
        qs.annotate(month=TruncMonth("occurred_on"))
        .values("month", "benefit_id", "tier_id")
        .annotate(redemptions=Count("id"), used=Sum("used_delta"))
        .order_by("month", "benefit_id", "tier_id")
    )
