"""The daily job of DOMAIN §4 (managers.daily): what it opens, when it is due, what becomes overdue, who is told."""

import datetime as dt
import io
import logging
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.factories import CustomerFactory, RegionFactory
from customers.models import Customer, Group, KeyPerson
from managers import daily
from managers.factories import ManagedMemberFactory, ManagerFactory, ObligationFactory
from managers.models import (
    AccountManager,
    Assignment,
    ContactLog,
    MembershipCard,
    Notification,
    Obligation,
)
from managers.tasks import run_daily_task
from tiers.factories import CustomerTierFactory
from tiers.models import Tier

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = dt.date
ASSIGNED_ON = D(2026, 1, 5)
BORN_ON = D(1985, 6, 15)


# -- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def supervisor(django_user_model):
    return django_user_model.objects.create_user(username="sup", email="sup@example.com")


@pytest.fixture
def make_manager(django_user_model, supervisor):
    def make(no: str = "AM001", *, email: str = "", supervised: bool = True) -> AccountManager:
        return ManagerFactory(
            employee_no=no,
            user__username=f"user-{no}",
            user__email=email,
            in_group=False,
            supervisor=supervisor if supervised else None,
        )

    return make


@pytest.fixture
def manager(make_manager):
    return make_manager("AM001", email="am001@example.com")


@pytest.fixture
def member(manager):
    """A member with a tier and (unless assigned=False) an active assignment to `manager`."""

    def make(
        tier: str | None = "gold",
        *,
        started_on=ASSIGNED_ON,
        birthday=BORN_ON,
        status="active",
        assigned=True,
        to: AccountManager | None = None,
    ):
        extra = {"closure_kind": "voluntary"} if status == "closed" else {}
        if status == "suspended":
            extra = {"suspension_kind": "arrears"}
        customer = ManagedMemberFactory(
            tier=tier,
            valid_until=D(2027, 10, 31) if tier else None,
            birthday=birthday,
            status=status,
            **extra,
            region=RegionFactory(),
            manager=(to or manager) if assigned else None,
            assigned_on=started_on,
            assignment_reason="new",
        )
        if not tier:
            CustomerTierFactory(customer=customer, code=None)  # a tier row without a tier
        return customer

    return make


def obligations(customer, kind=None):
    qs = Obligation.objects.filter(customer=customer)
    if kind:
        qs = qs.filter(kind=kind)
    return {o.period: (o.due_on, o.status) for o in qs}


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), SHANGHAI)


def call(customer, day: dt.date, outcome: str, channel: str = "call", hour: int = 10) -> ContactLog:
    return ContactLog.objects.create(customer=customer, channel=channel, outcome=outcome, occurred_at=at(day, hour))


def run(day: dt.date) -> dict:
    return daily.daily_run(on=day, at=timezone.now())


def run_days(first: dt.date, last: dt.date) -> None:
    day = first
    while day <= last:
        run(day)
        day += dt.timedelta(days=1)


# -- 1. periodic contact -----------------------------------------------------------------------------------------


def test_periodic_contact_monthly_for_diamond_and_gold_quarterly_for_silver(member, manager):
    # given a diamond, a gold and a silver member, and a customer with no tier, all assigned
    diamond, gold, silver, no_tier = member("diamond"), member("gold"), member("silver"), member(None)

    # when the daily job runs on 10 November 2026
    result = run(D(2026, 11, 10))

    # then diamond and gold owe a contact by the month's last day, silver by the quarter's last day
    assert obligations(diamond, "periodic_contact") == {"2026-11": (D(2026, 11, 30), "open")}
    assert obligations(gold, "periodic_contact") == {"2026-11": (D(2026, 11, 30), "open")}
    assert obligations(silver, "periodic_contact") == {"2026-Q4": (D(2026, 12, 31), "open")}
    assert obligations(no_tier) == {}
    assert result["details"]["recurring"] == {"periodic_contact": 3, "routine_sms": 3, "routine_call": 3}
    # and the obligation belongs to the member's manager, opened on the run's day
    o = Obligation.objects.get(customer=gold, kind="periodic_contact")
    assert (o.manager, o.opened_on) == (manager, D(2026, 11, 10))


def test_periodic_contact_of_a_new_period(member):
    # given a gold member whose November contact is open
    gold = member("gold")
    run(D(2026, 11, 30))

    # when the job runs on 1 December
    run(D(2026, 12, 1))

    # then December's obligation is open and November's is overdue
    assert obligations(gold, "periodic_contact") == {
        "2026-11": (D(2026, 11, 30), "overdue"),
        "2026-12": (D(2026, 12, 31), "open"),
    }


def test_closed_and_pending_closure_customers_get_no_recurring_obligations(member):
    # given members that are closed, pending closure and suspended (all still assigned), with a birthday soon
    soon = D(1980, 11, 20)
    closed = member("diamond", status="closed", birthday=soon)
    pending = member("diamond", status="pending_closure", birthday=soon)
    suspended = member("diamond", status="suspended", birthday=soon)

    # when the job runs
    run(D(2026, 11, 10))

    # then the closed and pending ones get nothing; the suspended one gets its periodic, routine and gift obligations
    assert obligations(closed) == {}
    assert obligations(pending) == {}
    assert set(Obligation.objects.filter(customer=suspended).values_list("kind", flat=True)) == {
        "periodic_contact",
        "routine_sms",
        "routine_call",
        "birthday_gift",
    }


def test_customers_without_an_active_assignment_get_nothing(member, manager):
    # given a member never assigned, one whose assignment ended, both with a birthday in the window
    never = member("diamond", assigned=False, birthday=D(1980, 11, 20))
    ended = member("diamond", assigned=False, birthday=D(1980, 11, 20))
    Assignment.objects.create(
        customer=ended,
        manager=manager,
        started_on=D(2026, 1, 5),
        ended_on=D(2026, 6, 1),
        reason="new",
        end_reason="left_club",
    )
    # and a member assigned only after the replayed day
    later = member("diamond", started_on=D(2026, 12, 1))

    # when the job runs
    result = run(D(2026, 11, 10))

    # then none of them owes anything
    assert Obligation.objects.filter(customer__in=[never, ended, later]).count() == 0
    assert sum(v for k, v in result["counts"].items() if k != "emails") == 0


def test_a_member_whose_branch_changed_is_reassigned_by_the_daily_job(member, make_manager):
    # given a member served by a manager of another branch (her branch changed in a way that told nobody), and an
    # active manager in her new branch
    m = member("gold")
    moved_to = RegionFactory(code="SZ", name="深圳")
    Customer.objects.filter(pk=m.pk).update(region=moved_to)
    here = make_manager("AM020")
    AccountManager.objects.filter(pk=here.pk).update(region=moved_to)
    ObligationFactory(customer=m, manager=m.assignments.get().manager, due_on=D(2026, 11, 30))

    # when the job runs on 2 November 2026
    result = run(D(2026, 11, 2))

    # then she is reassigned to the manager of her new branch that day, and her open obligations moved with her
    assert result["counts"]["branch_change"] == 1
    current = Assignment.objects.get(customer=m, ended_on__isnull=True)
    assert (current.manager_id, current.started_on, current.reason) == (here.pk, D(2026, 11, 2), "branch_changed")
    assert set(Obligation.objects.filter(customer=m).values_list("manager_id", flat=True)) == {here.pk}


# -- 2. routine SMS and call -------------------------------------------------------------------------------------


def test_routine_sms_weekly_due_sunday_and_routine_call_monthly_for_every_member(member):
    # given a diamond, a gold and a silver member
    diamond, gold, silver = member("diamond"), member("gold"), member("silver")

    # when the job runs on Wednesday 11 November 2026, then on Monday 16 November
    run(D(2026, 11, 11))
    run(D(2026, 11, 16))

    # then each owes an SMS each ISO week (due Sunday) and a call each month (due the month's last day)
    for m in (diamond, gold, silver):
        assert obligations(m, "routine_sms") == {
            "2026-W46": (D(2026, 11, 15), "overdue"),
            "2026-W47": (D(2026, 11, 22), "open"),
        }
        assert obligations(m, "routine_call") == {"2026-11": (D(2026, 11, 30), "open")}


# -- 3. birthday gift --------------------------------------------------------------------------------------------


def test_birthday_gift_due_three_days_before_opened_fourteen_days_ahead(member):
    # given a gold member born on 1 December and a silver member (no gift) born on 20 November
    gold = member("gold", birthday=D(1990, 12, 1))
    silver = member("silver", birthday=D(1990, 11, 20))

    # when the job runs on 13 November (due 28 November is 15 days ahead), then on 14 November (14 days)
    run(D(2026, 11, 13))
    before = obligations(gold, "birthday_gift")
    run(D(2026, 11, 14))

    # then the gift is opened on the 14th, due 3 days before the birthday, its period the birthday's year
    assert before == {}
    assert obligations(gold, "birthday_gift") == {"2026": (D(2026, 11, 28), "open")}
    assert obligations(silver, "birthday_gift") == {}


def test_birthday_gift_in_early_january_seen_from_late_december(member):
    # given a diamond member born on 5 January
    diamond = member("diamond", birthday=D(1985, 1, 5))

    # when the job runs on 25 December 2026
    run(D(2026, 12, 25))

    # then next year's gift is open, due 2 January 2027
    assert obligations(diamond, "birthday_gift") == {"2027": (D(2027, 1, 2), "open")}


def test_birthday_gift_of_a_29_february_birthday(member):
    # given a gold member born on 29 February
    leapling = member("gold", birthday=D(1992, 2, 29))

    # when the job runs on 20 February 2027 (not a leap year) and on 20 February 2028 (a leap year)
    run(D(2027, 2, 20))
    run(D(2028, 2, 20))

    # then the birthday is 28 February 2027 (gift due the 25th) and 29 February 2028 (gift due the 26th)
    assert obligations(leapling, "birthday_gift") == {
        "2027": (D(2027, 2, 25), "overdue"),
        "2028": (D(2028, 2, 26), "open"),
    }


def test_birthday_gift_of_a_29_february_birthday_in_runs_that_continue_from_the_day_before(member):
    # given a gold member born on 29 February
    leapling = member("gold", birthday=D(1992, 2, 29))

    # when the job runs every day from 9 to 12 February 2027, then from 10 to 13 February 2028 (each run after
    # the first continues from the day before: it matches birthdays by month and day, not by date of birth)
    for first in (D(2027, 2, 9), D(2028, 2, 10)):
        for n in range(4):
            result = run(first + dt.timedelta(days=n))
            if n:
                assert result["incremental"] is not None
    opened = {o.period: o.opened_on for o in Obligation.objects.filter(customer=leapling, kind="birthday_gift")}

    # then the gift opens 14 days before it is due: 11 February for 25 February 2027 (the birthday is 28
    # February in a common year), 12 February for 26 February 2028
    assert opened == {"2027": D(2027, 2, 11), "2028": D(2028, 2, 12)}
    assert obligations(leapling, "birthday_gift")["2028"] == (D(2028, 2, 26), "open")


def test_birthday_rows_cover_the_window_once_per_day():
    # given a run on 14 February 2027 with the default lead of 3 days
    rows = daily.birthday_rows(D(2027, 2, 14), 3)

    # then 15 due dates are covered and 28 February also stands for 29 February
    assert len({due for _m, _d, _p, due in rows}) == 15
    assert (2, 29, "2027", D(2027, 2, 25)) in rows and (2, 28, "2027", D(2027, 2, 25)) in rows


# -- 4. holiday greeting -----------------------------------------------------------------------------------------


@pytest.fixture
def key_person(member):
    group = Group.objects.create(code="G-1", name="集团", group_class="A")

    def make(**kwargs):
        customer = member(**kwargs)
        KeyPerson.objects.create(group=group, customer=customer, role="contact", set_at=at(D(2025, 1, 1)))
        return customer

    return make


def test_holiday_greetings_for_key_persons_before_spring_festival_and_mid_autumn(key_person, member):
    # given a key person and a member who is not one, both assigned
    kp, plain = key_person(), member("gold")

    # when the job runs on 3 February 2026 (Spring Festival, 正月初一 on 17 February, is 14 days ahead), on
    # 5 February, and on 15 September 2026 (Mid-Autumn on 25 September)
    run(D(2026, 2, 3))
    run(D(2026, 2, 5))
    run(D(2026, 9, 15))

    # then the key person owes a greeting due on each festival, once (Spring Festival's not done: late)
    assert obligations(kp, "holiday_greeting") == {
        "2026-spring_festival": (D(2026, 2, 17), "overdue"),
        "2026-mid_autumn": (D(2026, 9, 25), "open"),
    }
    assert obligations(plain, "holiday_greeting") == {}


def test_holiday_greetings_for_every_festival_of_2027_and_new_year_2028(key_person):
    # given a key person (the working-day package knows no year after 2026)
    kp = key_person(started_on=D(2026, 6, 1))

    # when the job runs daily from 1 December 2026 to 31 December 2027
    run_days(D(2026, 12, 1), D(2027, 12, 31))

    # then she owes a greeting on each festival of the lunar calendar, opened 14 days ahead, never born overdue
    greetings = {
        o.period: (o.opened_on, o.due_on)
        for o in Obligation.objects.filter(customer=kp)
        if o.kind == "holiday_greeting"
    }
    assert greetings == {
        "2027-new_year": (D(2026, 12, 18), D(2027, 1, 1)),
        "2027-spring_festival": (D(2027, 1, 23), D(2027, 2, 6)),
        "2027-dragon_boat": (D(2027, 5, 26), D(2027, 6, 9)),
        "2027-mid_autumn": (D(2027, 9, 1), D(2027, 9, 15)),
        "2028-new_year": (D(2027, 12, 18), D(2028, 1, 1)),
    }


def test_mid_autumn_greeting_inside_national_day_is_not_lost(key_person):
    # given a key person in 2020, when Mid-Autumn (八月十五) fell on National Day, 1 October
    kp = key_person(started_on=D(2020, 1, 2))
    KeyPerson.objects.filter(customer=kp).update(set_at=at(D(2019, 12, 1)))

    # when the job runs on 20 September 2020
    run(D(2020, 9, 20))

    # then her Mid-Autumn greeting is due on 1 October
    assert obligations(kp, "holiday_greeting") == {"2020-mid_autumn": (D(2020, 10, 1), "open")}


def test_key_person_who_is_not_a_member_is_greeted_by_her_groups_account_manager(key_person, member, make_manager):
    # given group G-1 whose member key person is served by `manager`, a key person of G-1 who is not a member,
    # and a group G-2 with a non-member key person only, in a branch with two managers (the second less loaded)
    kp = key_person()
    outsider = CustomerFactory()
    group = Group.objects.get(code="G-1")
    KeyPerson.objects.create(group=group, customer=outsider, role="influencer", set_at=at(D(2025, 1, 1)))
    busy, free = make_manager("AM010"), make_manager("AM011")
    AccountManager.objects.filter(pk__in=[busy.pk, free.pk]).update(region=outsider.region)
    member("gold", to=busy)
    lonely = CustomerFactory(region=outsider.region)
    other = Group.objects.create(code="G-2", group_class="B")
    KeyPerson.objects.create(group=other, customer=lonely, role="contact", set_at=at(D(2025, 1, 1)))

    # when the job runs on 20 September 2026 (Mid-Autumn on 25 September)
    run(D(2026, 9, 20))

    # then the outsider is greeted by the manager of her group's key persons, and the key person of G-2 by the
    # lowest-load manager of her branch
    greeting = {o.customer_id: (o.manager_id, o.due_on) for o in Obligation.objects.filter(kind="holiday_greeting")}
    assert greeting == {
        kp.pk: (kp.assignments.get().manager_id, D(2026, 9, 25)),
        outsider.pk: (kp.assignments.get().manager_id, D(2026, 9, 25)),
        lonely.pk: (free.pk, D(2026, 9, 25)),
    }


def test_holiday_greeting_not_opened_more_than_fourteen_days_ahead(key_person):
    # given a key person
    kp = key_person()

    # when the job runs on 31 January 2026 (Spring Festival 15 days ahead)
    run(D(2026, 1, 31))

    # then no greeting is open yet
    assert obligations(kp, "holiday_greeting") == {}


def test_holiday_greeting_for_new_years_day_seen_from_december(key_person):
    # given a key person assigned in 2025
    kp = key_person(started_on=D(2025, 6, 1))

    # when the job runs on 20 December 2025
    run(D(2025, 12, 20))

    # then New Year's Day 2026 is due
    assert obligations(kp, "holiday_greeting") == {"2026-new_year": (D(2026, 1, 1), "open")}


# -- 5. unreachable follow-up ------------------------------------------------------------------------------------


def test_unreachable_follow_up_after_five_working_days_across_national_day(member):
    # given a member assigned on Monday 28 September 2026 whose phone was off on the 29th
    m = member("gold", started_on=D(2026, 9, 28))
    call(m, D(2026, 9, 29), "powered_off")

    # when the job runs every day up to Friday 9 October (4 working days: 29, 30 Sep, 8, 9 Oct)
    run_days(D(2026, 9, 28), D(2026, 10, 9))

    # then no follow-up yet; on Saturday 10 October (a make-up working day, the 5th) one opens, due in 7 days
    assert obligations(m, "unreachable_followup") == {}
    run(D(2026, 10, 10))
    assert obligations(m, "unreachable_followup") == {"2026-10-17": (D(2026, 10, 17), "open")}


def test_unreachable_follow_up_repeats_every_seven_days_until_reached(member):
    # given a member assigned on 28 September whose calls were forwarded, then powered off
    m = member("gold", started_on=D(2026, 9, 28))
    call(m, D(2026, 9, 29), "forwarded")
    call(m, D(2026, 10, 12), "powered_off")

    # when the job runs daily from 10 to 24 October
    run_days(D(2026, 10, 10), D(2026, 10, 24))

    # then a follow-up falls due every 7 days, the next opened on the day the last falls due; missed ones are late
    assert obligations(m, "unreachable_followup") == {
        "2026-10-17": (D(2026, 10, 17), "overdue"),
        "2026-10-24": (D(2026, 10, 24), "open"),  # due today: the next one opened today
        "2026-10-31": (D(2026, 10, 31), "open"),
    }

    # when a call reaches the member on 26 October and the job runs on to 14 November
    call(m, D(2026, 10, 26), "reached")
    run_days(D(2026, 10, 25), D(2026, 11, 14))

    # then no further follow-up opens
    assert set(obligations(m, "unreachable_followup")) == {"2026-10-17", "2026-10-24", "2026-10-31"}


def test_no_follow_up_when_reached_or_latest_call_was_not_unreachable(member):
    # given one member reached by a visit after an unreachable call, one whose latest call was unanswered,
    # and one whose only unreachable call was before the assignment started
    visited = member("gold", started_on=D(2026, 9, 1))
    call(visited, D(2026, 9, 2), "powered_off")
    call(visited, D(2026, 9, 3), "reached", channel="visit")
    unanswered = member("gold", started_on=D(2026, 9, 1))
    call(unanswered, D(2026, 9, 2), "forwarded")
    call(unanswered, D(2026, 9, 4), "no_answer")
    before = member("gold", started_on=D(2026, 9, 10))
    call(before, D(2026, 9, 9), "powered_off")

    # when the job runs on 21 September
    run(D(2026, 9, 21))

    # then none of them gets a follow-up
    assert Obligation.objects.filter(kind="unreachable_followup").count() == 0


def test_a_call_early_on_the_assignment_day_counts_in_local_time(member):
    # given a member assigned on 10 September whose phone was off at 01:00 that day, Shanghai time (17:00 UTC the
    # day before)
    m = member("gold", started_on=D(2026, 9, 10))
    call(m, D(2026, 9, 10), "powered_off", hour=1)

    # when the job runs on 21 September
    run(D(2026, 9, 21))

    # then the call counts as made since the assignment: a follow-up opens
    assert obligations(m, "unreachable_followup") == {"2026-09-28": (D(2026, 9, 28), "open")}


def test_follow_up_ignores_calls_after_the_replayed_day(member):
    # given a member whose phone was off on 2 September and who was reached on 30 September
    m = member("gold", started_on=D(2026, 9, 1))
    call(m, D(2026, 9, 2), "powered_off")
    call(m, D(2026, 9, 30), "reached")

    # when 10 September is replayed
    run(D(2026, 9, 10))

    # then the follow-up of that day is opened (the reaching call came later)
    assert obligations(m, "unreachable_followup") == {"2026-09-17": (D(2026, 9, 17), "open")}


def test_unreachable_cutoff_counts_working_days_back():
    calendar = daily.WorkCalendar()
    # Saturday 10 October 2026 is the 5th working day after Monday 28 September
    assert daily.unreachable_cutoff(calendar, D(2026, 10, 10)) == D(2026, 9, 28)
    assert daily.unreachable_cutoff(calendar, D(2026, 10, 9)) == D(2026, 9, 27)


# -- 6. card pickup reminders ------------------------------------------------------------------------------------


def test_card_pickup_reminders_weekly_in_the_first_month_then_monthly_from_the_second_until_picked_up(member):
    # given a diamond member whose card arrived on 5 October 2026 and waits at the branch
    m = member("diamond")
    card = MembershipCard.objects.create(
        customer=m,
        tier=Tier.objects.get(code="diamond"),
        state="awaiting_pickup",
        delivery_mode="self_pickup",
        arrived_on=D(2026, 10, 5),
    )

    # when the job runs daily through November
    run_days(D(2026, 10, 5), D(2026, 11, 30))

    # then reminders fall due weekly in the first month, then monthly on the 5th from the second month (5 November
    # included), each opened 7 days ahead
    key = f"card{card.pk}-"
    reminders = obligations(m, "card_pickup_reminder")
    assert {p: due for p, (due, _s) in reminders.items()} == {
        key + "1": D(2026, 10, 12),
        key + "2": D(2026, 10, 19),
        key + "3": D(2026, 10, 26),
        key + "4": D(2026, 11, 2),
        key + "5": D(2026, 11, 5),
        key + "6": D(2026, 12, 5),
    }
    assert Obligation.objects.get(period=key + "5").opened_on == D(2026, 10, 29)
    assert Obligation.objects.get(period=key + "6").opened_on == D(2026, 11, 28)

    # when the card is picked up and the job runs on into January
    MembershipCard.objects.filter(pk=card.pk).update(state="received", received_on=D(2026, 12, 1))
    run_days(D(2026, 12, 1), D(2027, 1, 10))

    # then no more reminders open
    assert len(obligations(m, "card_pickup_reminder")) == 6


# -- 7. overdue --------------------------------------------------------------------------------------------------


def test_open_obligations_past_due_become_overdue(member, manager):
    # given obligations due yesterday (open), today (open) and yesterday (done)
    m = member(None)
    common = {"customer": m, "manager": manager, "kind": "first_contact", "opened_on": D(2026, 10, 1)}
    late = ObligationFactory(period="a", due_on=D(2026, 10, 13), **common)
    today = ObligationFactory(period="b", due_on=D(2026, 10, 14), **common)
    done = ObligationFactory(period="c", due_on=D(2026, 10, 13), status="done", **common)

    # when the job runs on 14 October
    result = run(D(2026, 10, 14))

    # then only the open one due yesterday is overdue, since today
    late.refresh_from_db(), today.refresh_from_db(), done.refresh_from_db()
    assert (late.status, late.overdue_since) == ("overdue", D(2026, 10, 14))
    assert (today.status, today.overdue_since) == ("open", None)
    assert done.status == "done"
    assert result["counts"]["overdue"] == 1


# -- 8. notifications --------------------------------------------------------------------------------------------


@pytest.fixture
def two_managers(manager, make_manager, member, supervisor):
    """AM001 has 2 overdue and 1 due today; AM002 (same supervisor) has one due next week; AM003 (no supervisor)
    has 1 overdue."""
    busy, idle, alone = (
        manager,
        make_manager("AM002", email="am002@example.com"),
        make_manager("AM003", supervised=False),
    )
    for mgr, dues in (
        (busy, [D(2026, 10, 12), D(2026, 10, 13), D(2026, 10, 14)]),
        (idle, [D(2026, 10, 20)]),
        (alone, [D(2026, 10, 1)]),
    ):
        m = member(None, to=mgr)
        for i, due in enumerate(dues):
            ObligationFactory(
                customer=m, manager=mgr, kind="first_contact", period=f"p{i}", opened_on=D(2026, 10, 1), due_on=due
            )
    return busy, idle, alone


def test_digest_per_manager_and_supervisor(two_managers, supervisor):
    busy, idle, alone = two_managers

    # when the job runs on 14 October
    result = run(D(2026, 10, 14))

    # then the busy manager and the lone manager are told, the idle one is not
    digests = {n.user_id: n.text for n in Notification.objects.filter(kind="daily_digest", day=D(2026, 10, 14))}
    assert set(digests) == {busy.user_id, alone.user_id}
    assert digests[busy.user_id].startswith("2 overdue and 1 due today")
    assert digests[alone.user_id].startswith("1 overdue and 0 due today")
    # and the supervisor gets the overdue counts of her managers (the lone manager has no supervisor)
    sup = Notification.objects.get(kind="supervisor_digest", user=supervisor)
    assert sup.text.startswith("2 overdue obligations at 1 of your managers on 2026-10-14")
    assert "经理AM001 (AM001) 2" in sup.text and "AM002" not in sup.text
    assert result["details"]["notifications"] == {"managers": 2, "supervisors": 1}
    # and no email with the console backend
    assert result["counts"]["emails"] == 0


def test_digest_email_once_per_manager_with_a_real_backend(two_managers, settings, tmp_path):
    # given a file mail backend (not console or locmem)
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)

    # when the job runs twice on the same day
    first = run(D(2026, 10, 14))
    second = run(D(2026, 10, 14))

    # then the manager with an email address got one email, and the re-run sent none
    assert (first["counts"]["emails"], second["counts"]["emails"]) == (1, 0)
    sent = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "am001@example.com" in sent and "2 overdue and 1 due today" in sent


# -- idempotence, set-based, entry points ------------------------------------------------------------------------


@pytest.fixture
def club(member, key_person, make_manager):
    """A bit of everything on 10 October 2026."""
    member("diamond", birthday=D(1980, 10, 20))
    member("gold")
    member("silver")
    key_person()
    unreachable = member("gold", started_on=D(2026, 9, 28))
    call(unreachable, D(2026, 9, 29), "powered_off")
    carded = member("diamond")
    MembershipCard.objects.create(
        customer=carded, tier=Tier.objects.get(code="diamond"), state="awaiting_pickup", arrived_on=D(2026, 10, 5)
    )
    run(D(2026, 9, 29))  # yesterday's obligations, some overdue today


def test_second_run_of_the_same_day_changes_nothing(club):
    # given the job ran for 10 October
    first = run(D(2026, 10, 10))
    state = list(Obligation.objects.order_by("pk").values())
    notes = Notification.objects.count()

    # when it runs again for the same day
    second = run(D(2026, 10, 10))

    # then the first run did something in every kind of step, and the second changed nothing
    for step in (
        "recurring",
        "birthday_gift",
        "unreachable_followup",
        "card_pickup_reminder",
        "overdue",
        "notifications",
    ):
        assert first["counts"][step] > 0, step
    assert all(n == 0 for n in second["counts"].values())
    assert list(Obligation.objects.order_by("pk").values()) == state
    assert Notification.objects.count() == notes


def test_queries_do_not_grow_with_the_number_of_members(member, key_person):
    # given a small club, the number of queries of one run
    member("diamond", birthday=D(1980, 10, 20))
    key_person()
    with CaptureQueriesContext(connection) as small:
        run(D(2026, 9, 30))

    # when the club grows tenfold
    for _ in range(10):
        member("diamond", birthday=D(1980, 10, 20))
        key_person()
    with CaptureQueriesContext(connection) as large:
        run(D(2026, 10, 1))

    # then a run issues as many queries as before
    assert len(large) == len(small), len(large)
    # ten steps (tier floors and branch changes joined in issue 15, tier.expiring in 18), and the run record with
    # what changed since the previous run (issue 20: 8 on PostgreSQL, its settings and ANALYZE included)
    assert len(large) <= 74


def test_missing_calendar_year_warned_from_november(caplog):
    # when the job runs on 30 October 2026 and on 2 November 2026 (the package knows 2026, not 2027)
    with caplog.at_level(logging.WARNING, logger="managers.daily"):
        october = run(D(2026, 10, 30))
        warned_in_october = [r for r in caplog.records if "calendar" in r.getMessage()]
        november = run(D(2026, 11, 2))

    # then only the November run reports and warns that 2027 is missing
    assert october["missing_calendar_years"] == [] and warned_in_october == []
    assert november["missing_calendar_years"] == [2027]
    assert any("2027" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_command_prints_each_step(member):
    # given a gold member
    member("gold")
    out = io.StringIO()

    # when the command runs for a date
    call_command("run_daily", "--date", "2026-11-02", stdout=out)

    # then it prints each step with its count and the calendar warning
    text = out.getvalue()
    assert "Daily run for 2026-11-02" in text
    assert "recurring" in text and "periodic_contact 1" in text
    assert "2027" in text
    assert Obligation.objects.filter(kind="periodic_contact", period="2026-11").count() == 1


def test_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_daily", "--date", "2026-13-01")


def test_celery_task_runs_the_day(member):
    # given a silver member
    silver = member("silver")

    # when the task runs (eagerly in tests) for an ISO day
    result = run_daily_task.delay(on="2026-11-02").get()

    # then the day's obligations are open
    assert result["day"] == "2026-11-02" and result["details"]["recurring"]["periodic_contact"] == 1
    assert obligations(silver, "periodic_contact") == {"2026-Q4": (D(2026, 12, 31), "open")}
