"""Grants: at each period start, on tier changes (between runs and by a rating run), on leaving the club,
and at period rollover — set-based, idempotent, and the ledger always adds up to the balances."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from benefits import services
from benefits.models import AppendOnly, BenefitAccount, BenefitEntry
from core.errors import RuleViolation
from customers import services as customer_services
from tiers import services as tier_services
from tiers.models import CustomerTier, Tier
from tiers.tests.helpers import make_customer, monthly_bills, run_month

from .helpers import account, assert_ledger_matches_balances, balances, member

pytestmark = pytest.mark.django_db

NEW_YEAR = dt.date(2026, 1, 1)
MID_YEAR = dt.date(2026, 6, 15)

# DOMAIN §5 for the periodic benefits, in whole units (money in fen): benefit -> (diamond, gold, silver)
PERIODIC = {
    "lounge_airport": (12, 6, 2),
    "lounge_train_province": (12, 8, 4),
    "birthday_gift": (15000, 10000, None),
    "roaming_pack": (1, 1, 1),
    "emergency_reactivation": (3, 3, 3),  # uses per month
}


def expected(tier_index: int, year_key: str, month_key: str) -> dict:
    out = {}
    for code, quotas in PERIODIC.items():
        if quotas[tier_index] is not None:
            key = month_key if code == "emergency_reactivation" else year_key
            out[(code, key)] = (quotas[tier_index], 0)
    return out


def all_balances(customer) -> dict:
    return {
        (code, key): (granted, used)
        for code, key, granted, used in BenefitAccount.objects.filter(customer=customer).values_list(
            "benefit__code", "period_key", "granted", "used"
        )
    }


def redeem(customer, code, n=1, on=MID_YEAR, at=None, **kwargs):
    from benefits.models import Benefit

    return services.benefit_redeem(
        customer=customer,
        benefit=Benefit.objects.get(code=code),
        quantity=n,
        reference="test",
        on=on,
        at=at or timezone.now(),
        **kwargs,
    )


def test_the_period_start_grants_every_member_the_quota_of_her_tier():
    # given one member per tier, a customer outside the club and a closed former member
    diamond, gold, silver = member("diamond"), member("gold"), member("silver")
    outsider = member(None)
    closed = member("gold", status="closed")
    # when the grants run on 1 January
    counts = services.benefit_grants_run(on=NEW_YEAR)
    # then every member has the year's and the month's quota of her tier, one grant entry each
    assert all_balances(diamond) == expected(0, "2026", "2026-01")
    assert all_balances(gold) == expected(1, "2026", "2026-01")
    assert all_balances(silver) == expected(2, "2026", "2026-01")
    assert all_balances(outsider) == {} and all_balances(closed) == {}
    assert counts == {"grant": 5 + 5 + 4}
    assert set(BenefitEntry.objects.values_list("kind", flat=True)) == {"grant"}
    # flags, per-event and unlimited benefits need no accounts
    assert not BenefitAccount.objects.filter(benefit__unit="flag").exists()
    assert not BenefitAccount.objects.filter(benefit__period__in=["event", "none"]).exists()
    assert_ledger_matches_balances()


def test_a_second_pass_changes_nothing():
    member("diamond"), member("silver")
    services.benefit_grants_run(on=NEW_YEAR)
    entries = BenefitEntry.objects.count()
    assert services.benefit_grants_run(on=NEW_YEAR) == {}
    assert services.benefit_grants_run(on=dt.date(2026, 1, 20)) == {}
    assert BenefitEntry.objects.count() == entries


def test_the_grants_are_a_fixed_number_of_statements_whatever_the_number_of_members(django_assert_max_num_queries):
    for i in range(30):
        member(["diamond", "gold", "silver"][i % 3])
    with django_assert_max_num_queries(14):  # 12, and the outbound events (the last entry id, one INSERT)
        counts = services.benefit_grants_run(on=NEW_YEAR, chunk_size=1000)
    assert counts == {"grant": 10 * 5 + 10 * 5 + 10 * 4}


def test_a_new_month_opens_the_monthly_accounts_and_expires_the_last_months_rest():
    # given a gold member who used one emergency reactivation in January
    gold = member("gold")
    services.benefit_grants_run(on=NEW_YEAR)
    redeem(gold, "emergency_reactivation", on=dt.date(2026, 1, 20))
    # when February starts
    counts = services.benefit_grants_run(on=dt.date(2026, 2, 1))
    # then February has 3 again, and January's 2 unused lapse with an expiry entry
    assert account(gold, "emergency_reactivation", "2026-02").granted == 3
    january = account(gold, "emergency_reactivation", "2026-01")
    assert (january.granted, january.used) == (1, 1)
    expiry = BenefitEntry.objects.get(account=january, kind="expire")
    assert expiry.granted_delta == -2
    assert counts == {"grant": 1, "expire": 1}
    assert_ledger_matches_balances()


def test_period_rollover_at_new_year():
    # given a diamond member who used 3 airport lounges in 2026
    diamond = member("diamond")
    services.benefit_grants_run(on=dt.date(2026, 12, 1))
    redeem(diamond, "lounge_airport", 3, on=dt.date(2026, 12, 20))
    # when 2027 starts
    services.benefit_grants_run(on=dt.date(2027, 1, 1))
    # then 2027 starts afresh with 12, and 2026's 9 unused have expired
    assert (
        account(diamond, "lounge_airport", "2027").granted,
        account(diamond, "lounge_airport", "2027").used,
    ) == (12, 0)
    old = account(diamond, "lounge_airport", "2026")
    assert (old.granted, old.used, old.remaining) == (3, 3, 0)
    assert BenefitEntry.objects.get(account=old, kind="expire").granted_delta == -9
    # the new year's redemptions draw on the new account
    result = redeem(diamond, "lounge_airport", on=dt.date(2027, 1, 2))
    assert result.remaining == 11
    assert_ledger_matches_balances()


@pytest.fixture
def staff_pair(db):
    User = get_user_model()
    return User.objects.create_user("maker", is_staff=True), User.objects.create_user("checker", is_staff=True)


def override(customer, tier_code, on, staff_pair):
    maker, checker = staff_pair
    o = tier_services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code=tier_code),
        reason="test",
        starts_on=on,
        ends_on=dt.date(2026, 12, 31),
        actor=maker,
    )
    tier_services.tier_override_approve(override=o, actor=checker, at=timezone.now(), on=on)


def test_a_tier_change_mid_year_up_then_down_keeps_what_was_used(staff_pair):
    # given a gold member who used 5 of her 6 airport lounges and 5 of 8 train lounges
    customer = member("gold")
    services.benefit_grants_run(on=NEW_YEAR)
    redeem(customer, "lounge_airport", 5, on=dt.date(2026, 3, 1))
    redeem(customer, "lounge_train_province", 5, on=dt.date(2026, 3, 1))
    # when staff raise her to diamond in June (an approved override applies at once)
    override(customer, "diamond", MID_YEAR, staff_pair)
    # then the quota is diamond's at once, what was used stays used
    year = balances(customer, "2026")
    assert year["lounge_airport"] == (12, 5)
    assert year["lounge_train_province"] == (12, 5)
    assert year["birthday_gift"] == (15000, 0)
    adjust = BenefitEntry.objects.get(account__benefit__code="lounge_airport", kind="adjust")
    assert (adjust.granted_delta, adjust.remaining_after, adjust.occurred_on) == (6, 7, MID_YEAR)
    # and when she uses 3 more and is lowered to silver in July
    redeem(customer, "lounge_airport", 3, on=dt.date(2026, 7, 1))
    override(customer, "silver", dt.date(2026, 7, 15), staff_pair)
    year = balances(customer, "2026")
    # silver has 2 (in-province) airport lounges, 8 were used: nothing left, nothing taken back
    assert year["lounge_airport"] == (8, 8)
    # silver has 4 train lounges, 5 were used: nothing left
    assert year["lounge_train_province"] == (5, 5)
    # silver has no birthday gift
    assert year["birthday_gift"] == (0, 0)
    assert_ledger_matches_balances()


def test_a_move_in_grants_at_once():
    # given a customer outside the club
    customer = member(None)
    # when she moves in from another region as gold (跨区入网)
    tier_services.tier_transfer_floor_set(customer=customer, tier_code="gold", from_region="SZ", moved_on=MID_YEAR)
    # then she has gold's quota of the year and month at once
    assert all_balances(customer) == expected(1, "2026", "2026-06")


def test_closing_the_number_reduces_every_grant_to_what_was_used():
    # given a diamond member who used 2 lounges
    customer = member("diamond")
    services.benefit_grants_run(on=NEW_YEAR)
    redeem(customer, "lounge_airport", 2, on=dt.date(2026, 2, 1))
    # when her number is closed (the tier goes at once)
    customer_services.customer_transition(customer=customer, action="request_closure", at=timezone.now())
    customer_services.customer_transition(customer=customer, action="close", kind="voluntary", at=timezone.now())
    tier_services.tier_remove_for_closure(customer=customer, on=dt.date(2026, 2, 10))
    # then nothing is left of the year: each of the 4 yearly grants is reduced to what was used by an expiry
    year = balances(customer, "2026")
    assert year["lounge_airport"] == (2, 2)
    assert len(year) == 4 and all(granted == used for granted, used in year.values())
    expiries = BenefitEntry.objects.filter(kind="expire", occurred_on=dt.date(2026, 2, 10))
    assert expiries.count() == 4
    # and the next period job opens nothing for her
    services.benefit_grants_run(on=dt.date(2026, 3, 1))
    assert account(customer, "emergency_reactivation", "2026-03") is None
    assert_ledger_matches_balances()


def test_a_rating_run_then_the_pipeline_step_regrants(settings):
    # given a customer outside the club whose last 12 bills make her gold by score
    month = dt.date(2026, 7, 1)
    customer = make_customer(join_date=dt.date(2012, 1, 1), bills=monthly_bills(month, [200] * 12))
    # when the July run is applied and the pipeline's benefits step runs as of its evaluation date
    run = run_month(month, settings=settings)
    assert balances(customer, "2026") == {}
    services.benefit_grants_run(on=run.evaluation_date)
    # then she has gold's quota
    assert all_balances(customer) == expected(1, "2026", "2026-07")


def test_the_ledger_is_append_only():
    customer = member("gold")
    services.benefit_grants_run(on=NEW_YEAR)
    entry = BenefitEntry.objects.filter(customer=customer).first()
    entry.reference = "changed"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()


@time_machine.travel(dt.datetime(2026, 6, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_a_redemption_follows_a_rating_runs_change_before_the_pipeline_does():
    # given a diamond and a gold member who used 8 and 5 airport lounges this year
    diamond, gold = member("diamond"), member("gold")
    today = MID_YEAR
    services.benefit_grants_run(on=today)
    redeem(diamond, "lounge_airport", 8, on=today)
    redeem(gold, "lounge_airport", 5, on=today)
    # when a rating run swaps their tiers (in bulk: no signal) and the pipeline's grants have not run yet
    CustomerTier.objects.filter(customer=diamond).update(tier=Tier.objects.get(code="gold"))
    CustomerTier.objects.filter(customer=gold).update(tier=Tier.objects.get(code="diamond"))
    # then a redemption already sees the new tier's quota: the former diamond has 8 used of 6, nothing left
    with pytest.raises(RuleViolation) as refused:
        redeem(diamond, "lounge_airport", on=today)
    assert refused.value.code == "quota_exhausted" and "0 of 8 left" in refused.value.message
    # and the new diamond can use 3 more at once (12 - 5 - 3 = 4 left), the re-grant in the ledger
    assert redeem(gold, "lounge_airport", 3, on=today).remaining == 4
    lounge = account(gold, "lounge_airport", str(today.year))
    assert (lounge.granted, lounge.used) == (12, 8)
    assert BenefitEntry.objects.filter(account=lounge, kind="adjust", granted_delta=6).exists()
    # the pipeline's grants then adjust the rest: the refused lounge, and each one's train lounge and birthday
    # gift (roaming and emergency reactivation are the same for both tiers)
    assert services.benefit_grants_run(on=today) == {"adjust": 1 + 2 + 2}
    assert_ledger_matches_balances()


def test_a_replay_for_a_past_date_follows_a_rating_runs_change_as_it_did_that_day():
    # given the June 2025 scenario replayed today (no clock travel): a diamond and a gold member who used 8 and 5
    # airport lounges of 2025, then a rating run swapped their tiers before the pipeline's grants
    diamond, gold = member("diamond"), member("gold")
    on = dt.date(2025, 6, 15)
    at = dt.datetime(2025, 6, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    services.benefit_grants_run(on=on)
    redeem(diamond, "lounge_airport", 8, on=on, at=at)
    redeem(gold, "lounge_airport", 5, on=on, at=at)
    CustomerTier.objects.filter(customer=diamond).update(tier=Tier.objects.get(code="gold"))
    CustomerTier.objects.filter(customer=gold).update(tier=Tier.objects.get(code="diamond"))
    # when the former diamond redeems on that day, then 2025 was the current year at `at`: she has nothing left
    with pytest.raises(RuleViolation) as refused:
        redeem(diamond, "lounge_airport", on=on, at=at)
    assert refused.value.code == "quota_exhausted" and "0 of 8 left" in refused.value.message
    # and the new diamond's 2025 account was re-granted as it would have been that day (12 - 5 - 3 = 4 left)
    assert redeem(gold, "lounge_airport", 3, on=on, at=at).remaining == 4
    assert_ledger_matches_balances()
