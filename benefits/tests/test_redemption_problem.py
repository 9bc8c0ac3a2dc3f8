"""benefits.rules.redemption_problem: every refusal of a redemption, in order, as a pure function (no database)."""

import datetime as dt

import pytest

from benefits import rules

ON = dt.date(2026, 10, 15)


def facts(**changes) -> dict:
    """A member entitled to a count benefit, nothing in the way; `changes` override one fact."""
    base = {
        "status": "active",
        "suspension_kind": "",
        "benefit_code": "LOUNGE",
        "benefit_name": "Airport lounge",
        "benefit_active": True,
        "unit": rules.COUNT,
        "period": rules.YEAR,
        "redeemable_while_suspended": False,
        "member": True,
        "entitled_": True,
        "quota_units": 4,
        "units": 1,
        "refuse_old_arrears": False,
        "unpaid_months": [],
        "on": ON,
    }
    return base | changes


def test_nothing_in_the_way():
    # given an active member entitled to the benefit, when she redeems, then nothing refuses
    assert rules.redemption_problem(**facts()) is None


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"status": "closed"}, "frozen", "closed"),
        ({"status": "pending_closure"}, "frozen", "pending closure"),
        ({"status": "suspended", "suspension_kind": "requested"}, "frozen", ""),
        ({"benefit_active": False}, "not_entitled", "not offered any more"),
        ({"member": False}, "not_entitled", "not a member"),
        ({"entitled_": False}, "not_entitled", "tier has no airport lounge (LOUNGE)"),
        ({"unit": rules.MONEY, "quota_units": 10000, "units": 10001}, "over_cap", "over the cap of 100.00 yuan"),
        (
            {"refuse_old_arrears": True, "unpaid_months": [dt.date(2026, 8, 1), dt.date(2026, 9, 1)]},
            "not_entitled",
            "arrears older than the previous month (2026-08)",
        ),
    ],
)
def test_each_refusal(changes, code, words):
    # given one fact in the way, when she redeems, then the refusal names it
    refusal = rules.redemption_problem(**facts(**changes))
    assert refusal is not None
    assert refusal.code == code
    assert words in refusal.message


def test_the_first_problem_wins():
    # given a closed customer of a benefit no longer offered, then the status is the refusal
    assert rules.redemption_problem(**facts(status="closed", benefit_active=False)).code == "frozen"
    # given a non-member of a withdrawn benefit, then the withdrawal is the refusal
    refusal = rules.redemption_problem(**facts(member=False, benefit_active=False))
    assert "not offered" in refusal.message


def test_money_at_the_cap_and_last_month_unpaid_pass():
    # given an amount exactly at the cap and only last month unpaid, then nothing refuses
    assert rules.redemption_problem(**facts(unit=rules.MONEY, quota_units=10000, units=10000)) is None
    changes = {"refuse_old_arrears": True, "unpaid_months": [dt.date(2026, 9, 1)]}
    assert rules.redemption_problem(**facts(**changes)) is None


def test_over_cap_names_the_field_and_period():
    refusal = rules.redemption_problem(**facts(unit=rules.MONEY, period=rules.EVENT, quota_units=5000, units=6000))
    assert refusal.fields == {"amount": ["at most 50.00"]}
    assert "per event" in refusal.message
