"""The daily job continues from its previous run (managers.daily.previous_run): an incremental day looks only at the
customers whose facts changed or whose dates came, and must leave the club exactly as a full pass would."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from customers.factories import RegionFactory
from customers.models import Customer, PlanPeriod
from managers import daily
from managers.models import Assignment, ContactLog, DailyRun, MembershipCard, Notification, Obligation
from managers.tests.test_daily import (  # the fixtures of the daily job's tests
    D,
    call,
    key_person,  # noqa: F401
    make_manager,  # noqa: F401
    manager,  # noqa: F401
    member,  # noqa: F401
    supervisor,  # noqa: F401
)
from tiers.models import CustomerTier, Tier, TierChange

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def club_state() -> dict:
    """Everything the daily job writes, as plain values (no ids of its own rows)."""
    return {
        "obligations": sorted(
            Obligation.objects.values_list(
                "customer_id", "kind", "period", "manager_id", "opened_on", "due_on", "status", "overdue_since"
            )
        ),
        "tiers": sorted(
            CustomerTier.objects.values_list(
                "customer_id", "tier_id", "source", "valid_until", "since", "score_tier_id", "score_valid_until"
            )
        ),
        "tier_changes": sorted(
            TierChange.objects.values_list("customer_id", "transition", "reason", "effective_on", "to_tier_id")
        ),
        "assignments": sorted(
            Assignment.objects.values_list("customer_id", "manager_id", "started_on", "ended_on", "reason")
        ),
        # a kind may end with the id of what it is about (members_moved:<id>): ids of rolled back rows are not reused
        "notifications": sorted(
            (user, kind.split(":")[0], day, text)
            for user, kind, day, text in Notification.objects.values_list("user_id", "kind", "day", "text")
        ),
    }


def incremental_and_full(day: dt.date) -> tuple[dict, dict, dict]:
    """The run of `day` continuing from the previous run (then rolled back), and the full pass of the same day from
    the same state (kept): (incremental result, state after it, state after the full pass)."""
    try:
        with transaction.atomic():
            result = daily.daily_run(on=day, at=timezone.now())
            incremental = club_state()
            raise _Rollback
    except _Rollback:
        pass
    full = daily.daily_run(on=day, at=timezone.now(), full=True)
    assert full["incremental"] is None
    return result, incremental, club_state()


def test_an_incremental_day_leaves_the_club_as_a_full_pass_would(member, key_person, make_manager, manager):  # noqa: F811
    # given a club on Tuesday 13 October 2026 (the first run: a full pass): members of each tier, a key person, a
    # member whose phone was off, a card waiting at the branch
    diamond, gold, silver = member("diamond"), member("gold"), member("silver")
    key_person()
    silent = member("gold", started_on=D(2026, 9, 1))
    call(silent, D(2026, 9, 2), "powered_off")
    later = member("gold", started_on=D(2026, 10, 14))  # her assignment starts tomorrow
    born_soon = member("gold", birthday=D(1990, 10, 31))  # her gift (due 28 Oct) enters the window tomorrow
    planned = member(None)
    PlanPeriod.objects.create(customer=planned, plan_code="388", started_on=D(2026, 10, 14))  # a gold plan floor
    first = daily.daily_run(on=D(2026, 10, 13), at=timezone.now())
    assert first["incremental"] is None

    # when, before the next day, the club changes: a new member, a tier change, a suspension and a closure, a
    # birthday corrected, an unreachable call, a card arrived, a branch change
    newcomer = member("diamond", started_on=D(2026, 10, 14))
    CustomerTier.objects.filter(customer=silver).update(
        tier=Tier.objects.get(code="diamond"), updated_at=timezone.now()
    )
    for customer, status, extra in (
        (gold, "suspended", {"suspension_kind": "arrears"}),
        (diamond, "closed", {"closure_kind": "voluntary"}),
    ):
        Customer.objects.filter(pk=customer.pk).update(status=status, updated_at=timezone.now(), **extra)
    newcomer.birthday = D(1980, 10, 20)
    newcomer.save()
    other = member("silver", started_on=D(2026, 1, 5))
    call(other, D(2026, 10, 13), "forwarded")
    carded = member("diamond")
    MembershipCard.objects.create(
        customer=carded, tier=Tier.objects.get(code="diamond"), state="awaiting_pickup", arrived_on=D(2026, 10, 9)
    )
    moved = member("gold")
    elsewhere = RegionFactory(code="SZ", name="深圳")
    here = make_manager("AM020")
    here.region = elsewhere
    here.save()
    moved.region = elsewhere
    moved.save()

    # then the incremental run of Wednesday 14 October opens, marks and moves exactly what a full pass does
    result, incremental, full = incremental_and_full(D(2026, 10, 14))
    assert result["incremental"]["since"] == "2026-10-13"
    assert incremental == full
    kinds = {(c, k) for c, k, *_ in full["obligations"]}
    assert {(newcomer.pk, "periodic_contact"), (newcomer.pk, "birthday_gift"), (later.pk, "routine_call")} <= kinds
    assert {(born_soon.pk, "birthday_gift"), (other.pk, "unreachable_followup")} <= kinds
    assert (carded.pk, "card_pickup_reminder") in kinds
    assert ("periodic_contact", "2026-10") in {(k, p) for c, k, p, *_ in full["obligations"] if c == silver.pk}
    assert (planned.pk, "joined", "plan", D(2026, 10, 14), Tier.objects.get(code="gold").pk) in full["tier_changes"]
    assert Assignment.objects.get(customer=moved, ended_on__isnull=True).manager_id == here.pk

    # and a new week and month (Monday 2 November, rules of every cadence at once) with more changes agrees too
    third = member("silver", started_on=D(2026, 10, 20))
    ContactLog.objects.filter(customer=silent).delete()
    call(third, D(2026, 10, 21), "powered_off")
    for day in (D(2026, 10, 15), D(2026, 10, 29)):
        daily.daily_run(on=day, at=timezone.now())
    result, incremental, full = incremental_and_full(D(2026, 11, 2))
    assert result["incremental"]["since"] == "2026-10-29"
    assert incremental == full
    assert {(c, p) for c, k, p, *_ in full["obligations"] if k == "periodic_contact"} >= {(third.pk, "2026-Q4")}


def test_the_run_is_recorded_and_a_full_pass_when_asked_or_the_rules_changed(member):  # noqa: F811
    # given a member and a first run
    member("gold")
    first = daily.daily_run(on=D(2026, 11, 10), at=timezone.now())

    # when the job runs the next day, then again with --full, then after a contact rule changed
    second = daily.daily_run(on=D(2026, 11, 11), at=timezone.now())
    forced = daily.daily_run(on=D(2026, 11, 11), at=timezone.now(), full=True)
    from managers.models import ContactRule

    ContactRule.objects.filter(kind="routine_sms").update(active=False)
    changed_rules = daily.daily_run(on=D(2026, 11, 12), at=timezone.now())
    replay = daily.daily_run(on=D(2026, 11, 1), at=timezone.now())

    # then the first is a full pass, the second continues from it, the others are full passes again
    assert first["incremental"] is None
    assert second["incremental"]["since"] == "2026-11-10"
    assert forced["incremental"] is None and changed_rules["incremental"] is None and replay["incremental"] is None
    assert list(DailyRun.objects.order_by("id").values_list("day", "full")) == [
        (D(2026, 11, 10), True),
        (D(2026, 11, 11), False),
        (D(2026, 11, 11), True),
        (D(2026, 11, 12), True),
        (D(2026, 11, 1), True),
    ]
    assert all(run.finished_at for run in DailyRun.objects.all())


def changed_customers() -> set[int]:
    """The customers the last run looked at (its CHANGED table, kept on the connection until the next run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id FROM {daily.CHANGED}")
        return {row[0] for row in cursor.fetchall()}


def test_migrates_initial_state_of_a_manager_is_not_a_change_of_her_members(member, manager):  # noqa: F811
    # given two members of a manager and a first run (a full pass)
    from managers.models import AccountManager

    members = {member("gold").pk, member("silver").pk}
    a_day_ago = timezone.now() - dt.timedelta(days=1)  # written well before the run (not within its margin)
    Customer.objects.update(updated_at=a_day_ago)
    CustomerTier.objects.update(updated_at=a_day_ago)
    daily.daily_run(on=D(2026, 11, 10), at=timezone.now())

    # when `migrate` backfills her "initial state" history (managers loaded in bulk have none: vipclub.audit's
    # post-migrate handler writes it as below) and the job runs
    AccountManager.history.filter(id=manager.pk).delete()
    AccountManager.history.bulk_history_create([manager], default_change_reason="initial state")
    assert AccountManager.history.filter(id=manager.pk, history_change_reason="initial state").exists()
    daily.daily_run(on=D(2026, 11, 11), at=timezone.now())

    # then her members are not looked at again: nothing of theirs changed
    assert changed_customers() == set()

    # but when her row really changes (she moves to another region), the next run looks at all her members
    manager.region = RegionFactory(code="SZ", name="深圳")
    manager.save()
    daily.daily_run(on=D(2026, 11, 12), at=timezone.now())
    assert changed_customers() >= members
