"""Assignment, reassignment, the contact trail closing obligations, cards, plans (DOMAIN §4)."""

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import InvalidInput, RuleViolation
from core.models import ActionLog
from customers.factories import RegionFactory
from managers import services
from managers.factories import ObligationFactory
from managers.models import Assignment, MembershipCard, Obligation
from managers.tests.helpers import make_manager, make_member
from tiers.models import CustomerTier

pytestmark = pytest.mark.django_db
D = dt.date


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_new_members_go_to_the_lowest_load_against_capacity_with_a_first_contact_due_in_3_working_days():
    region = RegionFactory(code="GZ")
    other = RegionFactory(code="SZ", name="深圳")
    big = make_manager("M1", region=region, capacity=300)
    small = make_manager("M2", region=region, capacity=100)
    make_manager("M3", region=region, active=False)
    for _ in range(30):  # big already serves 30 (load 0.10), small none
        make_member(manager=big)
    new = [make_member(region=region) for _ in range(8)]
    make_member(region=other)  # a branch without managers: stays unassigned
    make_member(region=region, tier=None)  # not a member
    assigned = services.assignments_for_new_members(on=D(2026, 9, 30))
    assert assigned == 8
    loads = {m.employee_no: Assignment.objects.filter(manager=m, ended_on__isnull=True).count() for m in (big, small)}
    # small takes new members while its load/capacity is below big's (30/300 = 0.1 → small up to 10/100)
    assert loads == {"M1": 30, "M2": 8}
    first = Obligation.objects.get(customer=new[0], kind="first_contact")
    assert (first.manager, first.due_on, first.status) == (small, D(2026, 10, 10), "open")
    assert services.assignments_for_new_members(on=D(2026, 9, 30)) == 0  # idempotent


def test_ties_break_deterministically_by_employee_number():
    region = RegionFactory()
    a, b = make_manager("A1", region=region), make_manager("B1", region=region)
    first = make_member(region=region)
    services.assignments_for_new_members(on=D(2026, 10, 12))
    assert Assignment.objects.get(customer=first).manager == a
    second = make_member(region=region)
    services.assignments_for_new_members(on=D(2026, 10, 12))
    assert Assignment.objects.get(customer=second).manager == b


def test_leaving_the_club_ends_the_assignment_and_cancels_open_obligations():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    ObligationFactory(
        customer=member,
        manager=manager,
        kind="periodic_contact",
        period="2026-10",
        opened_on=D(2026, 10, 1),
        due_on=D(2026, 10, 31),
    )
    CustomerTier.objects.filter(customer=member).update(tier=None, source="")
    assert services.assignments_end_for_leavers(on=D(2026, 11, 1)) == 1
    assignment = Assignment.objects.get(customer=member)
    assert (assignment.ended_on, assignment.end_reason) == (D(2026, 11, 1), "left_club")
    assert Obligation.objects.get(customer=member).status == "cancelled"


def test_reassignment_carries_open_obligations_and_keeps_history():
    region = RegionFactory()
    old, new = make_manager("M1", region=region), make_manager("M2", region=region)
    members = [make_member(manager=old) for _ in range(3)]
    open_one = ObligationFactory(
        customer=members[0],
        manager=old,
        kind="periodic_contact",
        period="2026-11",
        opened_on=D(2026, 11, 1),
        due_on=D(2026, 11, 30),
    )
    done_one = ObligationFactory(
        customer=members[0],
        manager=old,
        kind="first_contact",
        period="x",
        opened_on=D(2026, 9, 1),
        due_on=D(2026, 9, 4),
        status="done",
    )
    moved = services.customers_reassign(customer_ids=[m.pk for m in members], manager=new, on=D(2026, 11, 20))
    assert moved == 3
    open_one.refresh_from_db()
    done_one.refresh_from_db()
    assert open_one.manager == new and done_one.manager == old  # history stays with who did it
    assert Assignment.objects.filter(customer=members[0]).count() == 2
    assert Assignment.objects.get(customer=members[0], ended_on__isnull=True).manager == new
    elsewhere = make_manager("M9", region=RegionFactory(code="SZ", name="深圳"))
    with pytest.raises(RuleViolation) as exc:
        services.customers_reassign(customer_ids=[members[1].pk], manager=elsewhere, on=D(2026, 11, 20))
    assert exc.value.code == "other_region"


NOV30, NOV1 = D(2026, 11, 30), D(2026, 11, 1)


def open_obligation(member, manager, kind, due=NOV30, opened=NOV1, period="p"):
    return ObligationFactory(customer=member, manager=manager, kind=kind, period=period, opened_on=opened, due_on=due)


@pytest.mark.parametrize(
    ("kind", "channel", "outcome", "closes"),
    [
        ("first_contact", "sms", "reached", True),
        ("first_contact", "call", "reached", True),
        ("first_contact", "call", "no_answer", False),
        ("first_call", "call", "reached", True),
        ("first_call", "sms", "reached", False),
        ("unreachable_followup", "visit", "reached", True),
        ("unreachable_followup", "call", "powered_off", False),
        ("periodic_contact", "call", "reached", True),
        ("periodic_contact", "wechat", "reached", True),  # a reply
        ("periodic_contact", "call", "no_answer", False),
        ("routine_sms", "sms", "reached", True),
        ("routine_sms", "call", "reached", False),
        ("routine_call", "call", "no_answer", True),
        ("card_receipt_check", "call", "reached", True),
        ("card_pickup_reminder", "call", "no_answer", True),
        ("card_pickup_reminder", "sms", "reached", False),  # a call is required
        ("holiday_greeting", "sms", "reached", True),
        ("holiday_greeting", "email", "reached", False),
        ("retention_contact", "call", "reached", True),
        ("retention_contact", "sms", "reached", False),
        ("birthday_gift", "call", "reached", False),  # needs the confirmed choice, time and address
        ("card_door_delivery", "visit", "reached", False),  # needs the delivery logged
    ],
)
def test_each_obligation_is_done_by_what_domain_says(kind, channel, outcome, closes):
    manager = make_manager("M1")
    member = make_member(manager=manager)
    obligation = open_obligation(member, manager, kind)
    log, closed = services.contact_log(
        customer=member, channel=channel, outcome=outcome, occurred_at=at(D(2026, 11, 20))
    )
    obligation.refresh_from_db()
    assert (obligation.pk in closed) is closes
    assert obligation.status == ("done" if closes else "open")
    if closes:
        assert obligation.done_by == log


def test_a_first_contact_by_sms_opens_the_first_call_3_working_days_later():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    open_obligation(member, manager, "first_contact", due=D(2026, 10, 10), opened=D(2026, 9, 30))
    services.contact_log(customer=member, channel="sms", outcome="reached", occurred_at=at(D(2026, 9, 30)))
    call = Obligation.objects.get(customer=member, kind="first_call")
    assert (call.due_on, call.status, call.manager) == (D(2026, 10, 10), "open", manager)
    _, closed = services.contact_log(customer=member, channel="call", outcome="reached", occurred_at=at(D(2026, 10, 9)))
    assert closed == [call.pk]


def test_overdue_obligations_can_still_be_done_but_not_on_time():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    late = open_obligation(member, manager, "periodic_contact", due=D(2026, 10, 31), opened=D(2026, 10, 1))
    Obligation.objects.filter(pk=late.pk).update(status="overdue")
    services.contact_log(customer=member, channel="call", outcome="reached", occurred_at=at(D(2026, 11, 3)))
    from managers.selectors import compliance

    late.refresh_from_db()
    assert late.status == "done"
    assert compliance(managers=[manager], start=D(2026, 10, 1), end=D(2026, 10, 31)).percent == 0.0


def test_card_pickup_notice_needs_an_sms_then_a_call():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    notice = open_obligation(member, manager, "card_pickup_notice", due=D(2026, 11, 23), opened=D(2026, 11, 20))
    _, closed = services.contact_log(
        customer=member, channel="call", outcome="reached", occurred_at=at(D(2026, 11, 20), 9)
    )
    assert closed == []
    services.contact_log(customer=member, channel="sms", outcome="reached", occurred_at=at(D(2026, 11, 20), 10))
    _, closed = services.contact_log(
        customer=member, channel="call", outcome="reached", occurred_at=at(D(2026, 11, 21))
    )
    assert closed == [notice.pk]


def test_the_card_workflow_opens_its_follow_ups():
    manager = make_manager("M1")
    member = make_member(manager=manager, tier="diamond")
    card = services.card_start(customer=member)
    with pytest.raises(RuleViolation):
        services.card_start(customer=member)  # one in progress
    with pytest.raises(RuleViolation):
        services.card_advance(card=card, action="arrive", on=D(2026, 11, 1), at=timezone.now())  # not at the maker yet
    services.card_advance(
        card=card,
        action="collect",
        on=D(2026, 11, 1),
        landline="020-1234567",
        address="广州市天河路1号",
        at=timezone.now(),
    )
    services.card_advance(card=card, action="send_to_maker", on=D(2026, 11, 2), at=timezone.now())
    services.card_advance(card=card, action="arrive", on=D(2026, 12, 1), at=timezone.now())
    notice = Obligation.objects.get(customer=member, kind="card_pickup_notice")
    assert notice.due_on == D(2026, 12, 4)
    services.card_advance(card=card, action="deliver", on=D(2026, 12, 2), delivery_mode="mail", at=timezone.now())
    check = Obligation.objects.get(customer=member, kind="card_receipt_check")
    assert check.due_on == D(2026, 12, 9)
    services.card_advance(card=card, action="receive", on=D(2026, 12, 6), at=timezone.now())
    card.refresh_from_db()
    check.refresh_from_db()
    assert (card.state, card.received_on, check.status) == ("received", D(2026, 12, 6), "done")
    reissue = services.card_start(customer=member, reissue=True)  # a re-issued card follows the same path
    assert reissue.reissue and MembershipCard.objects.filter(customer=member).count() == 2


def test_receiving_a_card_closes_its_pickup_notice_and_reminders():
    # given a card awaiting pickup, its pickup notice (SMS then call not yet made) and a reminder open
    manager = make_manager("M1")
    member = make_member(manager=manager, tier="diamond")
    card = services.card_start(customer=member)
    for action in ("send_to_maker", "arrive"):
        services.card_advance(card=card, action=action, on=D(2026, 11, 1), at=at(D(2026, 11, 1)))
    services.card_advance(
        card=card, action="deliver", on=D(2026, 11, 2), delivery_mode="self_pickup", at=at(D(2026, 11, 2))
    )
    reminder = open_obligation(member, manager, "card_pickup_reminder", due=D(2026, 11, 8), opened=D(2026, 11, 1))

    # when she picks the card up on 3 November
    services.card_advance(card=card, action="receive", on=D(2026, 11, 3), at=at(D(2026, 11, 3)))

    # then no card obligation is left open
    statuses = dict(Obligation.objects.filter(customer=member, kind__startswith="card_").values_list("kind", "status"))
    assert statuses == {"card_pickup_notice": "done", "card_pickup_reminder": "done"}
    reminder.refresh_from_db()
    assert reminder.status == "done"


def test_door_delivery_is_due_on_the_agreed_date_and_done_when_delivered():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    card = services.card_start(customer=member)
    for action in ("send_to_maker", "arrive"):
        services.card_advance(card=card, action=action, on=D(2026, 11, 1), at=timezone.now())
    with pytest.raises(InvalidInput):
        services.card_advance(card=card, action="deliver", on=D(2026, 11, 2), delivery_mode="door", at=timezone.now())
    services.card_advance(
        card=card,
        action="deliver",
        on=D(2026, 11, 2),
        delivery_mode="door",
        agreed_date=D(2026, 11, 8),
        at=timezone.now(),
    )
    door = Obligation.objects.get(customer=member, kind="card_door_delivery")
    assert door.due_on == D(2026, 11, 8)
    services.card_advance(card=card, action="receive", on=D(2026, 11, 8), at=timezone.now())
    door.refresh_from_db()
    assert door.status == "done"


def test_birthday_gift_is_done_when_choice_time_and_address_are_confirmed():
    manager = make_manager("M1")
    member = make_member(manager=manager)
    gift = open_obligation(member, manager, "birthday_gift")
    with pytest.raises(InvalidInput) as exc:
        services.birthday_gift_confirm(
            obligation=gift, choice="books", time_note="", address=" ", at=at(D(2026, 12, 1))
        )
    assert set(exc.value.fields) == {"time", "address"}
    services.birthday_gift_confirm(
        obligation=gift, choice="鲜花", time_note="12-03 上午", address="天河路1号", at=at(D(2026, 12, 1))
    )
    gift.refresh_from_db()
    assert gift.status == "done" and "鲜花" in gift.note


def test_plans_and_work_logs_are_reviewed_by_the_supervisor(django_user_model):
    boss = django_user_model.objects.create_user(username="boss")
    stranger = django_user_model.objects.create_user(username="stranger")
    manager = make_manager("M1", supervisor=boss)
    plan = services.service_plan_save(
        manager=manager, scope="month", period_start=D(2026, 12, 1), content="visit 10 diamond members", submit=True
    )
    with pytest.raises(RuleViolation):
        services.service_plan_review(plan=plan, approve=True, at=at(D(2026, 12, 1)), actor=stranger)
    services.service_plan_review(
        plan=plan, approve=False, at=at(D(2026, 12, 1)), comment="add the birthdays", actor=boss
    )
    plan.refresh_from_db()
    assert (plan.status, plan.review_comment) == ("returned", "add the birthdays")
    plan = services.service_plan_save(
        manager=manager, scope="month", period_start=D(2026, 12, 1), content="v2", submit=True
    )
    services.service_plan_review(plan=plan, approve=True, at=at(D(2026, 12, 2)), actor=boss)
    with pytest.raises(RuleViolation):
        services.service_plan_save(manager=manager, scope="month", period_start=D(2026, 12, 1), content="v3")
    log = services.work_log_save(manager=manager, date=D(2026, 12, 2), content="called 12 members")
    services.work_log_review(log=log, comment="good", at=at(D(2026, 12, 2)), actor=boss)
    log.refresh_from_db()
    assert log.reviewed_by == boss


def test_every_card_move_records_who_made_it(django_user_model):
    # given a manager's member and the manager's login
    manager = make_manager("M1")
    member = make_member(manager=manager, tier="diamond")
    user = django_user_model.objects.create_user(username="li.na")
    # when she starts the card and sends it to the maker
    card = services.card_start(customer=member, actor=user)
    services.card_advance(card=card, action="send_to_maker", on=D(2026, 11, 2), actor=user, at=timezone.now())
    # then each move names her
    logged = ActionLog.objects.filter(model="membershipcard", object_id=str(card.pk)).order_by("id")
    assert [(log.action, log.actor) for log in logged] == [("card_started", "li.na"), ("card_send_to_maker", "li.na")]
    assert logged.last().details == {"on": "2026-11-02", "state": "at_maker"}
