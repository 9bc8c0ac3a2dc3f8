"""Compensation with a benefit use (DOMAIN §9 服务差错主动补偿, API.md `{benefit, quantity}`): posted through the benefits
ledger with the complaint as reference, kept by the periodic grant sync, reversed on reopen."""

import datetime as dt

import pytest

from benefits import services as benefit_services
from benefits.models import Benefit, BenefitEntry
from benefits.tests.helpers import account, assert_ledger_matches_balances
from core.errors import InvalidInput, RuleViolation
from core.models import OutboxEvent
from managers.tests.helpers import make_manager, make_member, make_supervisor
from service import services
from service.factories import club_time, receive, walk

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2026, 11, 13)
LOUNGE = "lounge_airport"


@pytest.fixture
def replied():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001")
    start = club_time(FRIDAY, 9)
    return member, walk(receive(member, at=start, by=manager.user), "replied", at=start)


def lounge_left(member) -> int:
    a = account(member, LOUNGE, "2026")
    return a.granted - a.used


def test_a_lounge_visit_as_compensation_posts_once_survives_the_grant_sync_and_reverses_on_reopen(replied):
    # given a gold member (6 airport-lounge visits a year) whose complaint was replied to
    member, complaint = replied
    benefit_services.benefit_grants_sync(on=FRIDAY, customer_ids=[member.pk])
    assert lounge_left(member) == 6
    # when it is resolved with one lounge visit as compensation
    complaint = services.complaint_transition(
        complaint=complaint,
        to="resolved",
        at=club_time(FRIDAY, 15),
        actor=None,
        compensation={"benefit": LOUNGE, "quantity": 1},
    )
    # then she has 7 this year, one ledger entry references the complaint, and partners are told
    assert lounge_left(member) == 7
    posted = BenefitEntry.objects.filter(reference=f"complaint:{complaint.pk}")
    assert [(e.kind, e.granted_delta) for e in posted] == [("adjust", 1)]
    assert OutboxEvent.objects.filter(type="benefits.granted", data__items=[{"benefit": LOUNGE, "granted": 1}]).exists()
    assert complaint.compensation_benefit.code == LOUNGE and complaint.compensation_quantity == 1
    assert_ledger_matches_balances()
    # when the periodic grant sync runs again (also a month later), then it keeps the visit
    benefit_services.benefit_grants_sync(on=FRIDAY, customer_ids=[member.pk])
    benefit_services.benefit_grants_sync(on=dt.date(2026, 12, 1), customer_ids=[member.pk])
    assert lounge_left(member) == 7
    # when she uses two visits and the complaint is reopened
    benefit = Benefit.objects.get(code=LOUNGE)
    for n in range(2):
        benefit_services.benefit_redeem(
            customer=member, benefit=benefit, reference=f"visit {n}", at=club_time(FRIDAY, 16)
        )
    services.complaint_transition(complaint=complaint, to="reopened", at=club_time(FRIDAY, 17), actor=None)
    # then the visit is taken back (6 - 2 used = 4 left), once, and the sync keeps it that way
    assert lounge_left(member) == 4
    benefit_services.benefit_grants_sync(on=FRIDAY, customer_ids=[member.pk])
    assert lounge_left(member) == 4
    assert_ledger_matches_balances()
    reversed_ = BenefitEntry.objects.filter(reference=f"complaint:{complaint.pk}:reopened")
    assert [e.granted_delta for e in reversed_] == [-1]


def test_a_benefit_compensation_that_cannot_be_given_is_refused_naming_it(replied):
    member, complaint = replied
    # a benefit that does not exist, or a bad quantity: 400 naming the compensation
    for bad in ({"benefit": "nope", "quantity": 1}, {"benefit": LOUNGE, "quantity": 0}):
        with pytest.raises(InvalidInput) as error:
            services.complaint_transition(
                complaint=complaint, to="resolved", at=club_time(FRIDAY, 15), actor=None, compensation=bad
            )
        assert "compensation" in error.value.fields
    # a money benefit is not given as uses: 400 naming the benefit
    with pytest.raises(InvalidInput) as error:
        services.complaint_transition(
            complaint=complaint,
            to="resolved",
            at=club_time(FRIDAY, 15),
            actor=None,
            compensation={"benefit": "birthday_gift", "quantity": 1},
        )
    assert "benefit" in error.value.fields


def test_a_benefit_the_tier_does_not_give_is_refused_409(replied):
    member, complaint = replied
    # given the train-station lounge taken out of her tier's entitlements
    Benefit.objects.get(code="lounge_train_province").entitlements.filter(tier=member.tier_state.tier).delete()
    with pytest.raises(RuleViolation) as error:
        services.complaint_transition(
            complaint=complaint,
            to="resolved",
            at=club_time(FRIDAY, 15),
            actor=None,
            compensation={"benefit": "lounge_train_province", "quantity": 1},
        )
    assert error.value.code == "not_entitled"
