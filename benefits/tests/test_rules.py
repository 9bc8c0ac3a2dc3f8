"""The pure rules of the benefits domain."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benefits import rules


def test_periods():
    on = dt.date(2026, 2, 14)
    assert rules.period_bounds("year", on) == rules.PeriodBounds("2026", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert rules.period_bounds("month", on) == rules.PeriodBounds("2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert rules.period_bounds("event", on, "H-1") == rules.PeriodBounds("event:H-1", on, None)
    assert rules.period_bounds("none", on) == rules.PeriodBounds("", None, None)


@pytest.mark.parametrize(
    "on,unpaid,refusing",
    [
        # DOMAIN §5: refused when arrears are older than the previous month
        (dt.date(2026, 10, 15), [dt.date(2026, 9, 1)], []),
        (dt.date(2026, 10, 15), [dt.date(2026, 8, 1), dt.date(2026, 9, 1)], [dt.date(2026, 8, 1)]),
        (dt.date(2026, 10, 1), [dt.date(2026, 10, 1)], []),
        (dt.date(2026, 1, 5), [dt.date(2025, 12, 1)], []),
        (dt.date(2026, 1, 5), [dt.date(2025, 11, 1)], [dt.date(2025, 11, 1)]),
        (dt.date(2026, 3, 31), [], []),
    ],
)
def test_old_arrears(on, unpaid, refusing):
    assert rules.old_arrears(unpaid, on) == refusing


@pytest.mark.parametrize(
    "status,kind,while_suspended,frozen",
    [
        ("active", "", False, None),
        ("suspended", "arrears", False, "suspended (arrears)"),
        ("suspended", "arrears", True, None),
        ("suspended", "high_amount", True, None),
        ("suspended", "half", True, None),
        ("suspended", "requested", True, "suspended (requested)"),
        ("suspended", "forced", True, "suspended (forced)"),
        ("pending_closure", "", True, "pending closure"),
        ("closed", "", True, "closed"),
    ],
)
def test_who_is_frozen(status, kind, while_suspended, frozen):
    reason = rules.frozen_reason(status=status, suspension_kind=kind, redeemable_while_suspended=while_suspended)
    assert reason is None if frozen is None else frozen in reason


def test_quota_in_whole_units():
    assert rules.quota(unit="count", quantity=12, money_cap=None, per_month_limit=None, unlimited=False) == 12
    assert (
        rules.quota(unit="money", quantity=None, money_cap=Decimal("150"), per_month_limit=None, unlimited=False)
        == 15000
    )
    assert rules.quota(unit="hours", quantity=None, money_cap=None, per_month_limit=3, unlimited=False) == 3
    assert rules.quota(unit="count", quantity=None, money_cap=None, per_month_limit=None, unlimited=True) == 0
    assert rules.quota(unit="flag", quantity=None, money_cap=None, per_month_limit=None, unlimited=False) == 0
    assert rules.to_display("money", 15000) == "150.00"
    assert rules.to_display("count", 3) == 3
    assert rules.to_display("count", None) is None


@given(st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False))
def test_yuan_and_fen_round_trip(amount):
    assert rules.fen_to_yuan(rules.yuan_to_fen(amount)) == amount


def test_refusal_codes():
    assert rules.refusal_code(unit="count", remaining=0) == "quota_exhausted"
    assert rules.refusal_code(unit="count", remaining=2) == "quota_exhausted"
    assert rules.refusal_code(unit="money", remaining=0) == "quota_exhausted"
    assert rules.refusal_code(unit="money", remaining=4000) == "over_cap"


def test_entitlement_problems_name_the_fields():
    def problems(unit, period, **fields):
        values = {"quantity": None, "money_cap": None, "hours": None, "per_month_limit": None, "unlimited": False}
        return set(rules.entitlement_problems(unit=unit, period=period, **{**values, **fields}))

    assert problems("count", "year", quantity=12) == set()
    assert problems("count", "none", unlimited=True) == set()
    assert problems("count", "year") == {"quantity"}
    assert problems("money", "event", money_cap=Decimal("150")) == set()
    assert problems("money", "year") == {"money_cap"}
    assert problems("hours", "month", hours=72, per_month_limit=3) == set()
    assert problems("hours", "year", hours=72, per_month_limit=3) == {"per_month_limit"}
    assert problems("hours", "month") == {"hours", "per_month_limit"}
    assert problems("flag", "none", unlimited=True) == {"unlimited"}
    assert problems("count", "event", quantity=1) == {"quantity"}


@pytest.mark.parametrize(
    "on,days,last_day",
    [
        # DOMAIN §5: the roaming pack is valid 90 days counting the claim day: until claim + 89 days
        (dt.date(2026, 3, 10), 90, dt.date(2026, 6, 7)),
        (dt.date(2026, 12, 31), 90, dt.date(2027, 3, 30)),
        (dt.date(2026, 3, 10), 1, dt.date(2026, 3, 10)),
        (dt.date(2026, 3, 10), None, None),
    ],
)
def test_a_claim_valid_n_days_counts_the_claim_day_as_the_first(on, days, last_day):
    # given a claim on `on` of a benefit valid `days` days
    # when its last valid day is computed
    # then the claim day is the first of the `days` days
    assert rules.valid_until(on, days) == last_day
