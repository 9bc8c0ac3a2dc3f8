"""Members with a tier, accounts and ledger checks, for the benefits tests."""

import datetime as dt

from django.db.models import Sum

from benefits.models import BenefitAccount, BenefitEntry
from customers.models import Customer
from tiers import rules as tier_rules
from tiers.tests.helpers import make_customer

ON = dt.date(2026, 3, 10)


def member(
    tier: str | None = "gold", *, status: str = "active", suspension_kind: str = "", source: str = "score", **kwargs
) -> Customer:
    """A customer holding `tier` (None: not a member), by score valid to the end of 2026 (or by another `source`)."""
    until = dt.date(2026, 12, 31) if source == "score" else None
    current = tier_rules.TierState(tier, source, until) if tier else tier_rules.NONE
    customer = make_customer(current=current, status=status, **kwargs)
    if suspension_kind:
        Customer.objects.filter(pk=customer.pk).update(suspension_kind=suspension_kind)
        customer.refresh_from_db()
    return customer


def account(customer: Customer, code: str, key: str) -> BenefitAccount | None:
    return BenefitAccount.objects.filter(customer=customer, benefit__code=code, period_key=key).first()


def balances(customer: Customer, key: str) -> dict[str, tuple[int, int]]:
    """{benefit code: (granted, used)} of the customer's accounts of one period."""
    return {
        code: (granted, used)
        for code, granted, used in BenefitAccount.objects.filter(customer=customer, period_key=key).values_list(
            "benefit__code", "granted", "used"
        )
    }


def assert_ledger_matches_balances() -> None:
    """For every account: granted = Σ granted_delta and used = Σ used_delta of its entries."""
    sums = {
        row["account_id"]: (row["g"], row["u"])
        for row in BenefitEntry.objects.values("account_id").annotate(g=Sum("granted_delta"), u=Sum("used_delta"))
    }
    for a in BenefitAccount.objects.all():
        assert sums.get(a.pk, (0, 0)) == (a.granted, a.used), (a.benefit_id, a.period_key, a.granted, a.used)
