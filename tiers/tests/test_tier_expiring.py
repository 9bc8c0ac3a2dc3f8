"""`tier.expiring` events (DOMAIN §11): 30 days before a score-won validity ends, once, with the score so far and the
spend still needed to keep the tier; the same figures on the manager's customer page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import OutboxEvent
from customers.models import MonthlyBill
from tiers import rules, selectors, services
from tiers.models import RatingPolicy
from tiers.tests.helpers import average_policy, close_months, make_customer

pytestmark = pytest.mark.django_db

VALID_UNTIL = dt.date(2027, 5, 31)
NOTICE_DAY = dt.date(2027, 5, 1)  # 30 days before
AT = timezone.make_aware(dt.datetime(2027, 5, 1, 6, 0))


def months(first: dt.date, n: int) -> list[dt.date]:
    out, m = [], first
    for _ in range(n):
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def bills(amount: str, first: dt.date, n: int) -> dict:
    return {m: Decimal(amount) for m in months(first, n)}


def expiring_events():
    return list(OutboxEvent.objects.filter(type="tier.expiring").order_by("id"))


def gold_by_score(**extra):
    # the June 2027 run re-rates her: its window is 2026-06 … 2027-05, of which 2026-06 … 2027-04 are closed now
    amounts = {**bills("100.70", dt.date(2026, 6, 1), 11), dt.date(2027, 5, 1): Decimal("500")}
    amounts[dt.date(2026, 5, 1)] = Decimal("900")  # before the window: not counted
    return make_customer(
        join_date=dt.date(2010, 3, 1),
        bills=amounts,
        current=rules.TierState("gold", "score", VALID_UNTIL),
        **extra,
    )


def test_tier_expiring_is_written_once_thirty_days_before_the_validity_ends_with_the_spend_needed():
    # given a gold member by score valid until 31 May 2027, 11 bills of 100.70 yuan in her next window so far
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    member = gold_by_score()
    # when the daily job runs on 30 April, on 1 May (30 days before), again on 1 May, and on 2 May
    assert services.tier_expiring_emit(on=NOTICE_DAY - dt.timedelta(days=1), at=AT) == 0
    assert services.tier_expiring_emit(on=NOTICE_DAY, at=AT) == 1
    assert services.tier_expiring_emit(on=NOTICE_DAY, at=AT) == 0
    assert services.tier_expiring_emit(on=NOTICE_DAY + dt.timedelta(days=1), at=AT) == 0
    # then exactly one event: 11 × 100 points + 300 tenure bonus = 1400, 600 yuan short of gold's 2000
    (event,) = expiring_events()
    assert event.customer_id == member.pk and event.msisdn == member.msisdn
    assert event.data == {"tier": "gold", "valid_until": "2027-05-31", "score": "1400", "needed": "600.00"}
    assert Decimal(event.data["needed"]) == Decimal("600")
    assert event.as_message()["data"]["msisdn"] == member.msisdn


def test_the_score_tier_kept_beside_a_floor_expires_too_and_floors_closed_or_short_validities_do_not():
    # given a member on a diamond override with a gold score tier valid until 31 May 2027 beside it, a plan member,
    # a closed member, and a gold member valid one day longer
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    beside = make_customer(
        bills=bills("150", dt.date(2026, 6, 1), 11),
        current=rules.TierState("diamond", "override", dt.date(2027, 12, 31), "gold", VALID_UNTIL),
    )
    make_customer(current=rules.TierState("gold", "plan", None))
    make_customer(status="closed", current=rules.TierState("gold", "score", VALID_UNTIL))
    make_customer(current=rules.TierState("gold", "score", VALID_UNTIL + dt.timedelta(days=1)))
    # when the daily job runs on 1 May
    services.tier_expiring_emit(on=NOTICE_DAY, at=AT)
    # then only the score tier beside the override is told: 11 × 150 + 300 = 1950, 50 yuan short
    (event,) = expiring_events()
    assert event.customer_id == beside.pk
    assert event.data["tier"] == "gold" and event.data["score"] == "1950" and event.data["needed"] == "50.00"


def test_a_member_already_above_the_threshold_needs_nothing():
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    make_customer(bills=bills("250", dt.date(2026, 6, 1), 11), current=rules.TierState("gold", "score", VALID_UNTIL))
    services.tier_expiring_emit(on=NOTICE_DAY, at=AT)
    (event,) = expiring_events()
    assert event.data["score"] == "3050" and event.data["needed"] == "0.00"


def test_average_spend_policy_needed_is_the_exact_yuan_still_missing_from_the_window():
    # given the average-spend policy (N = 6, gold 300 a month) active and a gold member valid until 31 May 2027
    RatingPolicy.objects.filter(code="annual").update(active=False)
    average_policy(active=True)
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    make_customer(bills=bills("250.55", dt.date(2026, 12, 1), 5), current=rules.TierState("gold", "score", VALID_UNTIL))
    # when the daily job runs on 1 May
    services.tier_expiring_emit(on=NOTICE_DAY, at=AT)
    # then 6 × 300 − 5 × 250.55 = 547.25 yuan are needed; the average so far is 1252.75 / 6 = 208.79
    (event,) = expiring_events()
    assert Decimal(event.data["needed"]) == Decimal("547.25")
    assert event.data["score"] == "208.79"


def test_the_sql_and_the_rules_agree(django_assert_max_num_queries):
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    member = gold_by_score()
    services.tier_expiring_emit(on=NOTICE_DAY, at=AT)
    (event,) = expiring_events()
    policy = services.policy_rules(RatingPolicy.objects.get(code="annual"))
    closed = set(months(dt.date(2025, 1, 1), 28))
    own = {b.month: b.amount for b in MonthlyBill.objects.filter(customer=member) if b.month in closed}
    score, needed = rules.expiring_figures(
        policy, "gold", valid_until=VALID_UNTIL, join_date=member.join_date, bills=own
    )
    assert (str(score), str(needed)) == (event.data["score"], event.data["needed"])


@pytest.mark.parametrize("n", [3, 30])
def test_the_step_is_a_fixed_number_of_queries_however_many_members_expire(n, django_assert_num_queries):
    # given n members whose validity ends in 30 days
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    for _ in range(n):
        gold_by_score()
    # when the step runs, then it takes the same 4 queries (policy, tiers, closed months, the INSERT … SELECT)
    with django_assert_num_queries(4):
        assert services.tier_expiring_emit(on=NOTICE_DAY, at=AT) == n


def test_the_customer_page_figure_is_the_event_s():
    close_months(dt.date(2025, 1, 1), dt.date(2027, 4, 1))
    member = gold_by_score()
    services.tier_expiring_emit(on=NOTICE_DAY, at=AT)
    (event,) = expiring_events()
    # within the 30 days the page shows the same figures; before them nothing
    shown = selectors.tier_expiring(member, on=dt.date(2027, 5, 10))
    assert shown["tier"] == "gold" and shown["valid_until"] == VALID_UNTIL
    assert str(shown["score"]) == event.data["score"] and str(shown["needed"]) == event.data["needed"]
    assert selectors.tier_expiring(member, on=dt.date(2027, 4, 30)) is None
