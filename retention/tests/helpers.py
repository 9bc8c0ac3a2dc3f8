"""Builders of the retention tests: members with a tier history (the snapshots read it), cases walked along."""

import datetime as dt
from decimal import Decimal

from customers.models import MonthlyBill
from retention import rules, services
from retention.factories import HistoryMemberFactory
from tiers.models import CustomerTier, Tier, TierChange


def tier_change(customer, tier: str | None, on: dt.date) -> None:
    """A change of the customer's tier effective on `on`, in the history and as her current tier."""
    tiers = {t.code: t for t in Tier.objects.all()}
    current = CustomerTier.objects.filter(customer=customer).first()
    TierChange.objects.create(
        customer=customer,
        from_tier=current.tier if current else None,
        to_tier=tiers.get(tier),
        transition="joined" if tier else "left",
        reason="score",
        effective_on=on,
    )
    CustomerTier.objects.update_or_create(
        customer=customer, defaults={"tier": tiers.get(tier), "source": "score" if tier else "", "since": on}
    )


def member(*, tier: str = "gold", region=None, manager=None, since=dt.date(2025, 11, 1), **fields):
    """A customer who became a member on `since` (a history row too), assigned to `manager` when given."""
    if region:
        fields["region"] = region
    return HistoryMemberFactory(tier=tier, since=since, manager=manager, **fields)


def bills(customer, amounts: dict[dt.date, str], paid: bool = True) -> None:
    MonthlyBill.objects.bulk_create(
        MonthlyBill(customer=customer, month=month, amount=Decimal(amount), paid=paid)
        for month, amount in amounts.items()
    )


def walk(case, to: str, *, actor=None):
    """Move a case along the usual path until it is in state `to`."""
    for state in rules.USUAL_PATHS[to]:
        case = services.case_transition(
            case=case,
            to=state,
            actor=actor,
            offer="data_bonus" if state == "offer_made" else "",
            visit_on=dt.date(2026, 12, 31) if state == "escalated" else None,
        )
    return case


def club_time(day: dt.date, hour: int = 10) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo("Asia/Shanghai"))
