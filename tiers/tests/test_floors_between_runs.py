"""DOMAIN §3 "Floors between runs" and "Validity and protection" across floors: the daily floors step
(services.tier_floors_apply, called by the daily job) applies a floor on its start date and lifts it the day after its
end, back to a score-won tier that is still valid; a run does the same on its evaluation date."""

import datetime as dt

import pytest
from django.utils import timezone

from customers import services as customer_services
from customers.models import KeyPerson
from tiers import rules, services
from tiers.models import Tier, TierChange
from tiers.tests.helpers import make_customer, monthly_bills, run_month, state_of

pytestmark = pytest.mark.django_db

M = dt.date(2026, 12, 1)
LONG_AGO = dt.date(2010, 1, 1)
NOV30_27 = dt.date(2027, 11, 30)
DIAMOND_BY_SCORE = rules.TierState("diamond", "score", NOV30_27)


def day(on: dt.date) -> dict[str, int]:
    return services.tier_floors_apply(on=on)


def last_change(customer) -> TierChange:
    return TierChange.objects.filter(customer=customer).order_by("-id").first()


def approved_override(customer, code: str, starts_on: dt.date, ends_on: dt.date, django_user_model):
    clerk = django_user_model.objects.get_or_create(username="clerk", defaults={"is_staff": True})[0]
    boss = django_user_model.objects.get_or_create(username="boss", defaults={"is_staff": True})[0]
    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code=code),
        reason="complaint",
        starts_on=starts_on,
        ends_on=ends_on,
        actor=clerk,
    )
    # approved before it starts: nothing applies on the approval day
    at = timezone.make_aware(dt.datetime(2026, 12, 1, 10))
    return services.tier_override_approve(override=override, actor=boss, at=at, on=dt.date(2026, 12, 1))


def test_an_override_for_15_to_20_december_applies_on_the_15th_and_lapses_on_the_21st(django_user_model):
    # given a diamond member by score, and an override to silver for 15–20 Dec approved on 1 Dec
    customer = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [420] * 12))
    run_month(M)
    assert state_of(customer) == DIAMOND_BY_SCORE
    approved_override(customer, "silver", dt.date(2026, 12, 15), dt.date(2026, 12, 20), django_user_model)
    assert state_of(customer) == DIAMOND_BY_SCORE
    # when the daily floors step runs before, on and after the override's days
    assert day(dt.date(2026, 12, 14)) == {}
    assert day(dt.date(2026, 12, 15)) == {"downgraded": 1}
    # then it wins from its start date (the score tier kept beside it), with a history row effective that day
    assert state_of(customer) == rules.TierState("silver", "override", dt.date(2026, 12, 20), "diamond", NOV30_27)
    change = last_change(customer)
    assert (change.transition, change.reason, change.effective_on, change.run) == (
        "downgraded",
        "override",
        dt.date(2026, 12, 15),
        None,
    )
    assert day(dt.date(2026, 12, 20)) == {}
    # and the day after its end she is back to her score tier, still valid, with the override as the reason
    assert day(dt.date(2026, 12, 21)) == {"upgraded": 1}
    assert state_of(customer) == DIAMOND_BY_SCORE
    change = last_change(customer)
    assert (change.transition, change.reason, change.effective_on) == ("upgraded", "override", dt.date(2026, 12, 21))
    # replaying a day changes nothing
    assert day(dt.date(2026, 12, 21)) == {}


def test_an_override_that_ended_on_15_january_is_lifted_on_the_16th_not_at_februarys_run(django_user_model):
    # given a member without a score tier, raised to gold by an override until 15 Jan
    customer = make_customer(join_date=LONG_AGO)
    approved_override(customer, "gold", dt.date(2026, 12, 1), dt.date(2027, 1, 15), django_user_model)
    assert state_of(customer) == rules.TierState("gold", "override", dt.date(2027, 1, 15))
    # when the daily step runs on the 15th and the 16th
    assert day(dt.date(2027, 1, 15)) == {}
    assert day(dt.date(2027, 1, 16)) == {"left": 1}
    # then she leaves the club the day after its end
    assert state_of(customer) == rules.NONE
    change = last_change(customer)
    assert (change.transition, change.reason, change.effective_on) == ("left", "override", dt.date(2027, 1, 16))


def test_a_move_in_lapses_back_to_the_still_valid_score_tier_on_1_january():
    # given gold by score valid to 2027-05-31 (spend now only silver), moved in as diamond (kept to 2026-12-31)
    gold = rules.TierState("gold", "score", dt.date(2027, 5, 31))
    customer = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [80] * 12), current=gold)
    services.tier_transfer_floor_set(customer=customer, tier_code="diamond", from_region="BJ", moved_on=M)
    assert state_of(customer) == rules.TierState("diamond", "transfer", dt.date(2026, 12, 31), "gold", gold.valid_until)
    # when the daily step runs on 31 Dec and 1 Jan
    assert day(dt.date(2026, 12, 31)) == {}
    assert day(dt.date(2027, 1, 1)) == {"downgraded": 1}
    # then she falls back to gold by score until 2027-05-31 (只升不降 across floors), not silver
    assert state_of(customer) == gold
    change = last_change(customer)
    assert (change.transition, change.reason, change.effective_on) == ("downgraded", "transfer", dt.date(2027, 1, 1))


def test_a_run_after_a_move_in_lapsed_keeps_the_still_valid_score_tier():
    # given the same member, and no daily step between the move-in's end and January's run
    gold = rules.TierState("gold", "score", dt.date(2027, 5, 31))
    jan = dt.date(2027, 1, 1)
    customer = make_customer(join_date=LONG_AGO, bills=monthly_bills(jan, [80] * 12), current=gold)
    services.tier_transfer_floor_set(customer=customer, tier_code="diamond", from_region="BJ", moved_on=M)
    run_month(M)
    assert state_of(customer).tier == "diamond"
    # when January is run (the score wins silver only)
    run = run_month(jan)
    # then she is gold by score with its old validity
    assert state_of(customer) == gold
    assert TierChange.objects.get(customer=customer, run=run).transition == "downgraded"


def test_a_plan_effective_on_1_march_gives_the_tier_on_1_march_and_lapses_when_it_changes():
    # given a customer on a plan without a floor, changing to 388 effective 1 March
    customer = make_customer(join_date=dt.date(2026, 10, 15), plan=("128", dt.date(2026, 10, 15)))
    customer_services.customer_change_plan(customer=customer, plan_code="388", started_on=dt.date(2027, 3, 1))
    # when the daily step runs on 28 Feb and 1 March
    assert day(dt.date(2027, 2, 28)) == {}
    assert day(dt.date(2027, 3, 1)) == {"joined": 1}
    # then she is gold from 1 March (not from April's run)
    assert state_of(customer) == rules.TierState("gold", "plan", None)
    change = last_change(customer)
    assert (change.transition, change.reason, change.effective_on) == ("joined", "plan", dt.date(2027, 3, 1))
    # and when the plan changes to one without a floor, the floor lapses on the new plan's effective date
    customer_services.customer_change_plan(customer=customer, plan_code="58", started_on=dt.date(2027, 3, 20))
    assert day(dt.date(2027, 3, 19)) == {}
    assert day(dt.date(2027, 3, 20)) == {"left": 1}
    assert (last_change(customer).reason, state_of(customer)) == ("plan", rules.NONE)


def test_a_key_person_floor_applies_the_day_after_it_was_set_and_lapses_when_removed():
    # given a customer made top decision maker of an A group during 10 Dec
    set_at = timezone.make_aware(dt.datetime(2026, 12, 10, 15))
    customer = make_customer(join_date=LONG_AGO, key_roles=[("top_decision_maker", "A", set_at)])
    # when the daily step runs on the 10th and the 11th
    assert day(dt.date(2026, 12, 10)) == {}
    assert day(dt.date(2026, 12, 11)) == {"joined": 1}
    # then she is diamond from the 11th
    assert state_of(customer) == rules.TierState("diamond", "key_person", None)
    # and when the role is removed, the floor is lifted the next day
    KeyPerson.objects.filter(customer=customer).delete()
    assert day(dt.date(2026, 12, 12)) == {"left": 1}
    assert last_change(customer).reason == "key_person"


def test_the_daily_step_never_lowers_a_score_tier_nor_touches_one_without_floors():
    # given gold by score, expired, with a silver plan floor; and a gold by score, expired, without floors
    expired = rules.TierState("gold", "score", dt.date(2026, 11, 30))
    with_plan = make_customer(join_date=LONG_AGO, plan=("288", dt.date(2026, 1, 1)), current=expired)
    alone = make_customer(join_date=LONG_AGO, current=expired)
    # when the daily step runs
    assert day(dt.date(2026, 12, 5)) == {}
    # then both stay gold: a score-won tier's validity is judged at a run
    assert state_of(with_plan) == expired
    assert state_of(alone) == expired
    assert not TierChange.objects.exists()


def test_a_floor_above_a_valid_score_tier_keeps_the_score_tier_beside_it():
    # given silver by score valid to 2027-11-30, and a 388 plan from 10 Dec
    silver = rules.TierState("silver", "score", NOV30_27)
    customer = make_customer(join_date=LONG_AGO, plan=("128", dt.date(2020, 1, 1)), current=silver)
    customer_services.customer_change_plan(customer=customer, plan_code="388", started_on=dt.date(2026, 12, 10))
    # when the daily step runs on the plan's effective date
    assert day(dt.date(2026, 12, 10)) == {"upgraded": 1}
    # then she is gold by plan, silver by score kept beside with its validity
    assert state_of(customer) == rules.TierState("gold", "plan", None, "silver", NOV30_27)
