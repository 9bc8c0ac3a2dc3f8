"""The risk list (DOMAIN §8): a set-based refresh scores members on falling spend (last 3 bills against the 3
before), suspensions, arrears, closure requests and overdue contacts, with weights as data; ordering and reasons."""

import datetime as dt
from decimal import Decimal

import pytest

from customers import services as customer_services
from customers.models import BillingMonth, MonthlyBill
from managers.factories import ObligationFactory
from managers.models import Obligation
from managers.tests.helpers import make_manager
from retention import rules, selectors, services
from retention.models import RiskScore, RiskWeight

from .helpers import bills, club_time, member

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 20)
D = Decimal
BEFORE = [dt.date(2026, m, 1) for m in (5, 6, 7)]
RECENT = [dt.date(2026, m, 1) for m in (8, 9, 10)]


def spend(customer, before: str, recent: str, **kwargs) -> None:
    bills(customer, {**{m: before for m in BEFORE}, **{m: recent for m in RECENT}}, **kwargs)


@pytest.fixture
def club():
    """Members A (spend halved), B (two suspensions this year, one last year, an unpaid bill), C (a closure request
    and two overdue contacts), D (steady), H (spend down exactly 20 %), G (down 10 %); E a non-member whose spend
    fell; billing closed to October 2026 (November is not)."""
    for month in [*BEFORE, *RECENT]:
        BillingMonth.objects.create(month=month, closed_at=club_time(month, 6))
    BillingMonth.objects.create(month=dt.date(2026, 11, 1))  # open: not looked at
    manager = make_manager("E900")
    people = {name: member(manager=manager, tier="gold", since=dt.date(2025, 1, 1)) for name in "ABCDHG"}
    people["E"] = member(tier=None)
    spend(people["A"], "300.00", "150.00")
    spend(people["B"], "100.00", "100.00")
    spend(people["C"], "88.00", "88.00")
    spend(people["D"], "188.00", "190.00")
    spend(people["H"], "100.00", "80.00")
    spend(people["G"], "100.00", "90.00")
    spend(people["E"], "300.00", "10.00")
    MonthlyBill.objects.filter(customer=people["B"], month=dt.date(2026, 10, 1)).update(paid=False)
    for start in (dt.date(2025, 9, 1), dt.date(2026, 3, 1), dt.date(2026, 9, 1)):
        customer_services.customer_transition(
            customer=people["B"], action="suspend", kind="arrears", at=club_time(start)
        )
        customer_services.customer_transition(
            customer=people["B"], action="reactivate", at=club_time(start + dt.timedelta(days=3))
        )
    services.closure_request(customer=people["C"], at=club_time(dt.date(2026, 11, 10)))  # through the lifecycle
    for n in (1, 2):
        ObligationFactory(
            customer=people["C"],
            manager=manager,
            kind="periodic_contact",
            period=f"p{n}",
            opened_on=dt.date(2026, 10, 1),
            due_on=dt.date(2026, 10, 31),
            status="overdue",
        )
    people["manager"] = manager
    return people


def scores() -> dict[int, RiskScore]:
    return {r.customer_id: r for r in RiskScore.objects.all()}


def test_the_refresh_ranks_the_members_by_their_signals(club):
    # when
    at_risk = services.risk_refresh(on=AS_OF)
    # then: C (40 + 2 × 10), B (2 × 15 + 20), A and H (30 each, by customer id); D, G and the non-member E are not
    rows = list(RiskScore.objects.order_by("-score", "customer_id"))
    assert at_risk == 4
    assert [r.customer_id for r in rows] == [club[n].pk for n in "CBAH"]
    assert [r.score for r in rows] == [D("60"), D("50"), D("30"), D("30")]
    a, b, c = scores()[club["A"].pk], scores()[club["B"].pk], scores()[club["C"].pk]
    assert (a.falling_spend, a.spend_recent, a.spend_before) == (True, D("450.00"), D("900.00"))
    assert (b.suspensions, b.arrears, b.falling_spend) == (2, 1, False)  # last year's suspension is too old
    assert (c.closure_requests, c.overdue_contacts) == (1, 2)
    assert all(r.as_of == AS_OF for r in rows)


def test_the_sql_score_is_the_rules_score(club):
    services.risk_refresh(on=AS_OF)
    weights = selectors.weights()
    for row in RiskScore.objects.all():
        assert row.score == rules.risk_score(selectors.risk_facts(row), weights)


def test_the_reasons_are_shown_heaviest_first(club):
    services.risk_refresh(on=AS_OF)
    top = selectors.risk_top([club["manager"]], limit=10)
    assert [r.customer_id for r in top] == [club[n].pk for n in "CBAH"]
    assert top[0].manager_name == club["manager"].name
    assert top[0].reasons == [("closure_request", 1, D("40")), ("overdue_contact", 2, D("20"))]
    assert top[1].reasons == [("suspension", 2, D("30")), ("arrears", 1, D("20"))]
    assert top[2].reasons == [("falling_spend", D("50.0"), D("30"))]
    assert top[2].spend_drop == D("50.0")


def test_weights_and_thresholds_are_data(club):
    RiskWeight.objects.filter(signal="overdue_contact").update(weight=D("5"))
    RiskWeight.objects.filter(signal="suspension").update(weight=D("40"))
    RiskWeight.objects.filter(signal="falling_spend").update(parameter=30)  # only a drop of 30 % or more
    services.risk_refresh(on=AS_OF)
    ranked = [r.customer_id for r in RiskScore.objects.order_by("-score", "customer_id")]
    assert ranked == [club[n].pk for n in "BCA"]  # B 100, C 50, A 30 (50 % ≥ 30 %); H (20 %) drops out
    assert scores()[club["C"].pk].score == D("50")


def test_a_refresh_replaces_the_list(club):
    services.risk_refresh(on=AS_OF)
    Obligation.objects.filter(customer=club["C"]).update(status="done")
    services.customer_lifecycle(customer=club["C"], action="cancel_closure")
    # a year later the closure request and the suspensions are too old (the last closed bills are the same)
    services.risk_refresh(on=dt.date(2027, 12, 1))
    assert club["C"].pk not in scores()
    assert (scores()[club["B"].pk].suspensions, scores()[club["B"].pk].score) == (0, D("20"))


def test_the_refresh_is_a_fixed_number_of_statements(club, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        services.risk_refresh(on=AS_OF)
