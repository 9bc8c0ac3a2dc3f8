"""The pure rules of DOMAIN §8: the case state machine, the churn KPIs against hand-computed figures, risk reasons."""

import datetime as dt
from decimal import Decimal

import pytest

from retention import rules

LEGAL = {
    ("open", "contacted"),
    ("contacted", "offer_made"),
    ("offer_made", "retained"),
    ("offer_made", "considering"),
    ("offer_made", "declined"),
    ("considering", "considering"),
    ("considering", "offer_made"),
    ("considering", "retained"),
    ("considering", "declined"),
    ("declined", "escalated"),
    ("escalated", "retained"),
    ("escalated", "churned"),
}


@pytest.mark.parametrize("state", rules.STATES)
@pytest.mark.parametrize("to", rules.STATES)
def test_every_pair_of_states_is_legal_exactly_as_domain_8_says(state, to):
    problem = rules.transition_problem(state, to)
    if (state, to) in LEGAL:
        assert problem is None
    else:
        assert problem is not None
        allowed = rules.allowed_transitions(state)
        # the refusal names the moves that are possible (or says the case is closed)
        assert all(a in problem for a in allowed)
        assert allowed or "closed" in problem


def test_retained_and_churned_are_the_only_terminal_states():
    assert rules.TERMINAL == {"retained", "churned"}


def test_percent_and_average_never_divide_by_zero():
    assert rules.percent(1, 3) == Decimal("33.33")
    assert rules.percent(2, 3) == Decimal("66.67")  # half up
    assert rules.percent(0, 0) is None
    assert rules.percent(5, None) is None
    assert rules.average(9, 10) == Decimal("9.5")
    assert rules.average(None, 10) is None


def test_breach_is_reaching_the_target():
    assert rules.breach(Decimal("2.00"), Decimal("2.00"))
    assert not rules.breach(Decimal("1.99"), Decimal("2.00"))
    assert not rules.breach(None, Decimal("2.00"))


def test_year_kpis_against_hand_computed_figures():
    # given: 200 members at the end of 2025, then 196, 190, 190 …; 2 + 2 closures in January, 5 + 1 in February
    members = [200, 196, 190, *[190] * 10]
    voluntary = [2, 5, *[0] * 10]
    arrears = [2, 1, *[0] * 10]
    # when
    kpis = rules.year_kpis(year=2026, members=members, voluntary=voluntary, arrears=arrears, target=Decimal("3.50"))
    jan, feb, mar = kpis[:3]
    # then: rate = churned / members at the end of the month before × 100
    assert (jan.churned, jan.rate, jan.average_members) == (4, Decimal("2.00"), Decimal("198.0"))
    assert (feb.churned, feb.rate, feb.average_members) == (6, Decimal("3.06"), Decimal("193.0"))  # 6/196
    # ytd = closures since 31 December / members on 31 December
    assert (jan.ytd_churned, jan.ytd_rate, jan.breach) == (4, Decimal("2.00"), False)
    assert (feb.ytd_churned, feb.ytd_rate, feb.breach) == (10, Decimal("5.00"), True)  # 10/200 ≥ 3.5
    assert (mar.ytd_rate, mar.breach) == (Decimal("5.00"), True)
    assert [k.month for k in kpis] == [dt.date(2026, m, 1) for m in range(1, 13)]


def test_a_month_with_zero_members_has_no_rate_and_the_ytd_starts_at_the_first_members():
    # given: the club started in March (no members before), 100 members at the end of March, 1 closure in April
    members = [None, 0, 0, 100, 99, *[99] * 8]
    kpis = rules.year_kpis(
        year=2026, members=members, voluntary=[0, 0, 0, 1, *[0] * 8], arrears=[0] * 12, target=Decimal("2.00")
    )
    # then: no division by zero anywhere; January has no snapshot of December
    assert [k.rate for k in kpis[:3]] == [None, None, None]
    assert kpis[0].members_previous is None and kpis[0].average_members is None
    assert kpis[1].average_members == Decimal("0.0")
    assert [k.ytd_rate for k in kpis[:3]] == [None, None, None]
    assert (kpis[3].rate, kpis[3].ytd_rate, kpis[3].breach) == (Decimal("1.00"), Decimal("1.00"), False)


def test_months_still_to_come_have_no_ytd_rate_nor_breach():
    kpis = rules.year_kpis(
        year=2026, members=[10] * 13, voluntary=[1] * 12, arrears=[0] * 12, target=Decimal("3.50"), through=2
    )
    assert kpis[1].ytd_rate == Decimal("20.00") and kpis[1].breach
    assert kpis[2].ytd_rate is None and not kpis[2].breach and kpis[2].ytd_churned == 0


def test_a_series_without_members_anywhere_has_no_rates():
    kpis = rules.year_kpis(year=2026, members=[0] * 13, voluntary=[0] * 12, arrears=[0] * 12, target=None)
    assert all(k.rate is None and k.ytd_rate is None and not k.breach for k in kpis)


def test_a_tier_without_a_target_of_its_own_has_the_all_members_target():
    targets = {None: Decimal("3.50"), "gold": Decimal("2.00")}
    assert rules.target_for("gold", targets) == Decimal("2.00")
    assert rules.target_for("silver", targets) == Decimal("3.50")
    assert rules.target_for(None, {}) is None


def test_risk_reasons_heaviest_first_and_the_score_is_their_sum():
    weights = {
        "falling_spend": Decimal("30"),
        "suspension": Decimal("15"),
        "arrears": Decimal("20"),
        "closure_request": Decimal("40"),
        "overdue_contact": Decimal("10"),
    }
    facts = rules.RiskFacts(
        spend_recent=Decimal("240"),
        spend_before=Decimal("400"),
        falling_spend=True,
        suspensions=1,
        arrears=0,
        closure_requests=1,
        overdue_contacts=3,
    )
    reasons = rules.risk_reasons(facts, weights)
    assert [r[0] for r in reasons] == ["closure_request", "falling_spend", "overdue_contact", "suspension"]
    assert reasons[1] == ("falling_spend", Decimal("40.0"), Decimal("30"))  # spend down 40 %
    assert rules.risk_score(facts, weights) == Decimal("115")
    assert rules.spend_drop_percent(Decimal("10"), Decimal("0")) is None
