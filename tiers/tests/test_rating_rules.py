"""Every rule of DOMAIN.md §3, through the real engine (run_month runs the SQL chunks)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from core import dates
from core.errors import RuleViolation
from customers import services as customer_services
from tiers import rules, services
from tiers.models import TierChange, TierOverride
from tiers.tests.helpers import average_policy, close_months, make_customer, monthly_bills, run_month, state_of

pytestmark = pytest.mark.django_db

M = dt.date(2026, 12, 1)  # evaluated 2026-12-01; bills of 2025-12 … 2026-11
NOV30_27 = dt.date(2027, 11, 30)  # last day of M+11
LONG_AGO = dt.date(2010, 1, 1)  # tenure bonus 300


def spend(total: int, months: int = 12) -> dict:
    """Bills of the 12 months before M adding up to `total` whole yuan."""
    base, rest = divmod(total, months)
    return monthly_bills(M, [base + (1 if i < rest else 0) for i in range(months)])


def test_worked_example_average_spend():
    # given the average-spend policy (N = 6, 150/300/450, validity 12 months, expiry day 8), run day 5
    policy = average_policy(active=True, expiry_day=8, run_day=5)
    march = dt.date(2012, 3, 1)
    # and a silver member (won by score, still valid) with a 6-month average of 320 yuan before March 2012
    customer = make_customer(
        join_date=dt.date(2009, 6, 1),
        bills=monthly_bills(march, [320] * 6),
        current=rules.TierState("silver", "score", dt.date(2012, 5, 31)),
    )
    # when March 2012 is rated
    run = run_month(march, policy=policy)
    # then she is gold from 2012-03-05, valid until 2013-03-08
    assert run.evaluation_date == dt.date(2012, 3, 5)
    assert state_of(customer) == rules.TierState("gold", "score", dt.date(2013, 3, 8))
    change = TierChange.objects.get(customer=customer)
    assert (change.transition, change.effective_on, change.score) == ("upgraded", dt.date(2012, 3, 5), 320)
    # when September 2012 is rated with an average of 160 yuan, she stays gold (held within validity)
    september = dt.date(2012, 9, 1)
    from customers.models import MonthlyBill

    MonthlyBill.objects.bulk_create(
        MonthlyBill(customer=customer, month=m, amount=a) for m, a in monthly_bills(september, [160] * 6).items()
    )
    run = run_month(september, policy=policy)
    assert state_of(customer) == rules.TierState("gold", "score", dt.date(2013, 3, 8))
    assert run.counts["held"] == 1


@pytest.mark.parametrize(
    ("bill_total", "expected"),
    [(699, None), (700, "silver"), (1699, "silver"), (1700, "gold"), (3699, "gold"), (3700, "diamond")],
)
def test_threshold_edges(bill_total, expected):
    # tenure bonus 300 makes the scores 999/1000, 1999/2000, 3999/4000
    customer = make_customer(join_date=LONG_AGO, bills=spend(bill_total))
    run_month(M)
    assert state_of(customer).tier == expected


def test_fractional_yuan_are_dropped_per_monthly_bill():
    # 12 bills of 58.99: Σ floor = 12 × 58 = 696 (+300) = 996 → no tier; summing first would give 707+300
    dropped = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, ["58.99"] * 12))
    whole = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, ["59.00"] * 12))  # 708 + 300 = 1008
    run_month(M)
    assert state_of(dropped).tier is None
    assert state_of(whole).tier == "silver"
    assert TierChange.objects.get(customer=whole).score == 1008


def test_missing_months_count_zero_and_unclosed_months_do_not_count():
    from customers.models import BillingMonth

    # given 6 bills of 300 (1800 + 300 = 2100 → gold) and the newest month not closed
    customer = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [300] * 6))
    run_month(M, close=True)
    assert state_of(customer).tier == "gold"
    other = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [300] * 6))
    BillingMonth.objects.filter(month=dt.date(2026, 11, 1)).update(closed_at=None)
    run, _ = services.tier_run_start(month=dt.date(2026, 12, 1), dry_run=True, force=True, dispatch=False)
    services.tier_run_execute(run=run)
    dry = run.dry_changes.get(customer=other)
    assert dry.score == 1500 + 300  # November's 300 is left out
    assert dry.to_tier is None or dry.to_tier.code == "silver"


def test_an_unclosed_month_inside_the_window_is_left_out_and_its_neighbours_count():
    from customers.models import BillingMonth

    # given 12 bills of 100, 1,200 yuan, and the window's 6th month (May) reopened for corrections
    customer = make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [100] * 12))
    close_months(dates.add_months(M, -12), dates.add_months(M, -1))
    BillingMonth.objects.filter(month=dt.date(2026, 5, 1)).update(closed_at=None)
    run, _ = services.tier_run_start(month=M, dry_run=True, force=True, dispatch=False)
    services.tier_run_execute(run=run)
    # the engine reads the months before and after the gap: 11 × 100 + the 300 tenure bonus
    dry = run.dry_changes.get(customer=customer)
    assert dry.score == 1100 + 300


@pytest.mark.parametrize(
    ("join_date", "bonus"),
    [
        (dt.date(2016, 12, 1), 300),  # 10 years on the evaluation date exactly
        (dt.date(2016, 12, 2), 200),  # 9 years
        (dt.date(2023, 12, 1), 200),  # 3 years
        (dt.date(2023, 12, 2), 100),
        (dt.date(2025, 12, 1), 100),  # 1 year: also the 12 months to win by score
    ],
)
def test_tenure_bonus_boundaries_on_the_first(join_date, bonus):
    customer = make_customer(join_date=join_date, bills=spend(1000 - bonus))
    run_month(M)
    assert state_of(customer).tier == "silver"
    assert TierChange.objects.get(customer=customer).score == 1000


def test_tenure_example_of_domain():
    # joined 2015-03-01 → 10 years on 2025-03-01; joined 2015-03-02 → 9
    assert dates.full_years(dt.date(2015, 3, 1), dt.date(2025, 3, 1)) == 10
    assert dates.full_years(dt.date(2015, 3, 2), dt.date(2025, 3, 1)) == 9


def test_less_than_12_months_cannot_win_by_score_but_a_floor_applies_at_once():
    rich_newcomer = make_customer(join_date=dt.date(2025, 12, 2), bills=spend(9000))
    on_plan = make_customer(join_date=dt.date(2026, 10, 15), plan=("388", dt.date(2026, 10, 15)))
    run_month(M)
    assert state_of(rich_newcomer).tier is None
    assert state_of(on_plan) == rules.TierState("gold", "plan", None)


def test_plan_floor_counts_from_its_effective_date_and_lapses_when_the_plan_changes():
    # given a plan effective on the evaluation date itself (按套餐生效日期立即生效), one before, one after
    started_on_the_day = make_customer(join_date=LONG_AGO, plan=("588", dt.date(2026, 12, 1)))
    started_earlier = make_customer(join_date=LONG_AGO, plan=("288", dt.date(2026, 11, 30)))
    started_later = make_customer(join_date=LONG_AGO, plan=("388", dt.date(2026, 12, 2)))
    # when the month is run, then the plans in force on its evaluation date count, from their effective date
    run_month(M)
    assert state_of(started_on_the_day) == rules.TierState("gold", "plan", None)
    assert state_of(started_earlier) == rules.TierState("silver", "plan", None)
    assert state_of(started_later).tier is None
    # when the plan changes to one without a floor, the floor lapses at the next run
    customer_services.customer_change_plan(customer=started_earlier, plan_code="58", started_on=dt.date(2026, 12, 20))
    run_month(dt.date(2027, 1, 1))
    assert state_of(started_earlier).tier is None
    assert TierChange.objects.filter(customer=started_earlier).last().transition == "left"


@pytest.mark.parametrize(
    ("role", "group_class", "expected"),
    [
        ("top_decision_maker", "A", "diamond"),
        ("top_decision_maker", "B", "gold"),
        ("top_decision_maker", "C", "silver"),
        ("top_decision_maker", "D", None),
        ("division_cadre", "A", "gold"),
        ("division_cadre", "D", "gold"),
        ("contact", "A", "gold"),
        ("contact", "B", "silver"),
        ("contact", "C", "silver"),
        ("contact", "D", "silver"),
        ("comms_middle_manager", "A", None),
        ("influencer", "A", None),
    ],
)
def test_key_person_floors(role, group_class, expected):
    before = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    customer = make_customer(join_date=LONG_AGO, key_roles=[(role, group_class, before)])
    run_month(M)
    assert state_of(customer).tier == expected
    if expected:
        assert state_of(customer).source == "key_person"


def test_several_key_roles_give_the_highest_and_count_from_the_first_run_after_being_set():
    before = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    after_run_start = timezone.make_aware(dt.datetime(2026, 12, 1, 9, 0))
    both = make_customer(join_date=LONG_AGO, key_roles=[("contact", "B", before), ("top_decision_maker", "A", before)])
    late = make_customer(join_date=LONG_AGO, key_roles=[("top_decision_maker", "A", after_run_start)])
    run_month(M)
    assert state_of(both).tier == "diamond"
    assert state_of(late).tier is None
    run_month(dt.date(2027, 1, 1))
    assert state_of(late).tier == "diamond"


def test_equal_rank_prefers_score_then_plan_then_key_person():
    before = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    score_and_plan = make_customer(join_date=LONG_AGO, bills=spend(1800), plan=("388", dt.date(2026, 1, 1)))
    plan_and_key = make_customer(
        join_date=LONG_AGO, plan=("388", dt.date(2026, 1, 1)), key_roles=[("contact", "A", before)]
    )
    run_month(M)
    assert state_of(score_and_plan) == rules.TierState("gold", "score", NOV30_27)
    assert state_of(plan_and_key) == rules.TierState("gold", "plan", None)


def test_move_in_keeps_the_tier_until_31_december_of_the_move_year():
    customer = make_customer(join_date=LONG_AGO)
    services.tier_transfer_floor_set(
        customer=customer, tier_code="gold", from_region="BJ", moved_on=dt.date(2026, 8, 10)
    )
    assert state_of(customer) == rules.TierState("gold", "transfer", dt.date(2026, 12, 31))  # at once
    run_month(M)
    assert state_of(customer) == rules.TierState("gold", "transfer", dt.date(2026, 12, 31))
    run_month(dt.date(2027, 1, 1))
    assert state_of(customer).tier is None


def test_override_needs_a_second_staff_user_wins_while_active_then_lapses(django_user_model):
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    boss = django_user_model.objects.create_user(username="boss", is_staff=True)
    customer = make_customer(join_date=LONG_AGO, bills=spend(5000))
    run_month(M)
    assert state_of(customer).tier == "diamond"
    from tiers.models import Tier

    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code="silver"),
        reason="fraud check",
        starts_on=dt.date(2026, 12, 10),
        ends_on=dt.date(2027, 1, 15),
        actor=clerk,
    )
    with pytest.raises(RuleViolation) as exc:
        services.tier_override_approve(override=override, actor=clerk, at=timezone.now(), on=dt.date(2026, 12, 10))
    assert exc.value.code == "four_eyes"
    assert state_of(customer).tier == "diamond"  # not applied while pending
    services.tier_override_approve(override=override, actor=boss, at=timezone.now(), on=dt.date(2026, 12, 10))
    # an override wins at once, also downwards, with its end date as validity (the score tier kept beside it)
    overridden = rules.TierState("silver", "override", dt.date(2027, 1, 15), "diamond", NOV30_27)
    assert state_of(customer) == overridden
    run_month(dt.date(2027, 1, 1))
    assert state_of(customer) == overridden
    # after its end date the override lapses and the score decides again
    run_month(dt.date(2027, 2, 1))
    assert state_of(customer).tier == "diamond"
    assert state_of(customer).source == "score"


def test_override_requires_reason_and_end_date(django_user_model):
    from core.errors import InvalidInput
    from tiers.models import Tier

    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    customer = make_customer()
    with pytest.raises(InvalidInput) as exc:
        services.tier_override_create(
            customer=customer,
            tier=Tier.objects.get(code="gold"),
            reason=" ",
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2025, 1, 1),
            actor=clerk,
        )
    assert set(exc.value.fields) == {"reason", "ends_on"}
    assert not TierOverride.objects.exists()


def test_within_validity_a_score_tier_only_goes_up():
    valid = rules.TierState("gold", "score", dt.date(2027, 3, 31))
    lower = make_customer(join_date=LONG_AGO, bills=spend(800), current=valid)  # silver candidate
    equal = make_customer(join_date=LONG_AGO, bills=spend(1800), current=valid)
    higher = make_customer(join_date=LONG_AGO, bills=spend(3800), current=valid)
    run = run_month(M)
    assert state_of(lower) == valid  # held
    assert state_of(equal) == valid  # unchanged: validity not extended
    assert state_of(higher) == rules.TierState("diamond", "score", NOV30_27)  # upgraded now, new validity
    assert (run.counts["held"], run.counts["unchanged"], run.counts["upgraded"]) == (1, 1, 1)


def test_after_validity_equal_renews_lower_downgrades_none_leaves():
    expired = rules.TierState("gold", "score", dt.date(2026, 11, 30))
    renew = make_customer(join_date=LONG_AGO, bills=spend(1800), current=expired)
    down = make_customer(join_date=LONG_AGO, bills=spend(800), current=expired)
    leave = make_customer(join_date=LONG_AGO, bills=spend(100), current=expired)
    run = run_month(M)
    assert state_of(renew) == rules.TierState("gold", "score", NOV30_27)
    assert state_of(down) == rules.TierState("silver", "score", NOV30_27)
    assert state_of(leave) == rules.NONE
    assert {k: run.counts[k] for k in ("renewed", "downgraded", "left")} == {"renewed": 1, "downgraded": 1, "left": 1}


def test_still_valid_on_the_evaluation_date_itself():
    valid_today = rules.TierState("gold", "score", dt.date(2026, 12, 1))
    customer = make_customer(join_date=LONG_AGO, bills=spend(100), current=valid_today)
    run_month(M)
    assert state_of(customer) == valid_today


def test_expiry_day_policy_validity():
    assert rules.score_valid_until(dt.date(2026, 12, 1), 12, None) == dt.date(2027, 11, 30)
    assert rules.score_valid_until(dt.date(2026, 12, 1), 12, 8) == dt.date(2027, 12, 8)


def test_a_floor_held_tier_lapses_with_its_floor_down_to_the_score_tier():
    customer = make_customer(join_date=LONG_AGO, bills=spend(800), current=rules.TierState("gold", "plan", None))
    run_month(M)
    assert state_of(customer) == rules.TierState("silver", "score", NOV30_27)
    assert TierChange.objects.get(customer=customer).transition == "downgraded"


def test_only_primary_numbers_hold_tiers():
    card = make_customer(join_date=LONG_AGO, bills=spend(9000), product_type="data_card")
    run_month(M)
    assert state_of(card).tier is None


def test_closure_removes_the_tier_at_once_with_reason_closure(api):
    customer = make_customer(join_date=LONG_AGO, bills=spend(5000))
    run_month(M)
    assert state_of(customer).tier == "diamond"
    for event_id, type_, data in [("c1", "closure_requested", {}), ("c2", "closed", {"kind": "voluntary"})]:
        body = {
            "event_id": event_id,
            "type": type_,
            "msisdn": customer.msisdn,
            "occurred_at": "2026-12-15T10:00:00+08:00",
            "data": data,
        }
        with time_machine.travel(dt.datetime(2026, 12, 15, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
            assert api.post("/api/v1/events/", body, format="json").status_code == 201  # (not in the future)
    assert state_of(customer) == rules.NONE
    change = TierChange.objects.filter(customer=customer).last()
    assert (change.reason, change.transition, change.effective_on, change.run) == (
        "closure",
        "left",
        dt.date(2026, 12, 15),
        None,
    )
    run_month(dt.date(2027, 1, 1))
    assert state_of(customer) == rules.NONE


def test_one_applied_run_per_policy_and_month_and_the_month_must_be_closed():
    from customers.models import BillingMonth

    with pytest.raises(RuleViolation) as exc:
        services.tier_run_start(month=M, dispatch=False)
    assert exc.value.code == "month_not_closed"
    BillingMonth.objects.create(month=dt.date(2026, 11, 1), closed_at=timezone.now())
    first, created = services.tier_run_start(month=M, dispatch=False)
    again, created_again = services.tier_run_start(month=M, force=True, dispatch=False)
    assert created and not created_again and first.pk == again.pk
    dry1, c1 = services.tier_run_start(month=M, dry_run=True, dispatch=False)
    dry2, c2 = services.tier_run_start(month=M, dry_run=True, dispatch=False)
    assert c1 and c2 and dry1.pk != dry2.pk


def test_dry_run_with_a_draft_threshold_changes_no_customer():
    customer = make_customer(join_date=LONG_AGO, bills=spend(4200))  # 4500: diamond, not if diamond were 5000
    run = run_month(M, dry_run=True, draft={"thresholds": {"diamond": "5000"}})
    assert state_of(customer) == rules.NONE
    assert run.counts["joined"] == 1
    change = run.dry_changes.get()
    assert (change.to_tier.code, change.score) == ("gold", 4500)
    assert run.policy_snapshot["thresholds"]["diamond"] == "5000"
    assert not TierChange.objects.exists()


def test_who_revokes_an_override_is_in_its_history(django_user_model):
    # given an approved override
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    boss = django_user_model.objects.create_user(username="boss", is_staff=True)
    customer = make_customer(join_date=LONG_AGO, bills=spend(5000))
    from tiers.models import Tier

    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code="silver"),
        reason="fraud check",
        starts_on=dt.date(2026, 12, 10),
        ends_on=dt.date(2027, 1, 15),
        actor=clerk,
    )
    services.tier_override_approve(override=override, actor=boss, at=timezone.now(), on=dt.date(2026, 12, 10))
    # when the boss revokes it outside a request (no middleware names the user)
    services.tier_override_decide(override=override, status="revoked", actor=boss)
    # then the audit trail says who did it
    latest = override.history.order_by("-history_id").first()
    assert (latest.status, latest.history_user) == ("revoked", boss)
