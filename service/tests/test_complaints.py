"""Complaints (DOMAIN §9): deadlines, every transition, escalation of late ones, compensation and its reversal,
the manager's desk, hand-over."""

import datetime as dt

import pytest
from django.utils import translation

from core.errors import InvalidInput, RuleViolation
from core.models import ActionLog, OutboxEvent
from managers.models import Notification, Obligation
from managers.selectors import manager_obligations
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points import services as points_services
from points.models import PointsEntry
from points.tests.helpers import assert_ledger_sound, balance
from service import rules, services
from service.factories import club_time, receive, walk
from service.models import Complaint, ComplaintStep

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2026, 11, 13)
SUNDAY = dt.date(2026, 11, 15)
MONDAY = dt.date(2026, 11, 16)


@pytest.fixture
def branch():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001")
    return boss, manager, member


def test_deadlines_acknowledge_2h_reply_48_clock_hours_resolve_5_working_days(branch):
    # given a gold member of a branch
    _boss, manager, member = branch
    # when the hotline receives her complaint on Friday at 17:00
    complaint = receive(member, at=club_time(FRIDAY, 17), by=manager.user)
    # then it is to be acknowledged by 19:00, replied to by Sunday 17:00 (clock hours, weekend or not), and resolved by
    # the fifth working day after (Friday 20 November); whoever received it owns it
    assert complaint.ack_due_at == club_time(FRIDAY, 19)
    assert complaint.reply_due_at == club_time(SUNDAY, 17)
    assert complaint.resolve_due_on == dt.date(2026, 11, 20)
    assert complaint.owner == manager.user and complaint.state == "received"
    assert ComplaintStep.objects.filter(complaint=complaint, action="received").count() == 1
    assert ActionLog.objects.filter(action="complaint_received", object_id=str(complaint.pk)).exists()
    assert OutboxEvent.objects.filter(type="complaint.changed", data__complaint=complaint.pk).exists()


def test_a_vips_complaint_is_on_her_managers_desk_at_once_and_acknowledging_it_is_done(branch):
    # given a gold member with her account manager
    _boss, manager, member = branch
    # when the hall receives her complaint
    complaint = receive(member, at=club_time(FRIDAY, 17), channel="hall")
    # then it is on her manager's page today, due today
    _overdue, due_today = manager_obligations(manager, on=FRIDAY)
    on_desk = [o for o in due_today if o.kind == "complaint"]
    assert len(on_desk) == 1 and on_desk[0].customer == member and f"#{complaint.pk}" in on_desk[0].note
    # when it is acknowledged, the obligation is done
    services.complaint_transition(complaint=complaint, to="acknowledged", at=club_time(FRIDAY, 18), actor=None)
    assert Obligation.objects.get(kind="complaint").status == "done"


# Every state a complaint can be in (with what it has done so far) and where it may go: DOMAIN §9's machine.
EXPECTED = {
    "received": {"acknowledged", "escalated"},
    "acknowledged": {"replied", "escalated"},
    "replied": {"resolved", "escalated"},
    "escalated": {"acknowledged", "resolved"},  # escalated before it was acknowledged
    "resolved": {"closed", "reopened"},
    "reopened": {"resolved", "escalated"},
    "closed": set(),
}


@pytest.mark.parametrize("to", rules.STATES)
@pytest.mark.parametrize("state", list(EXPECTED))
def test_every_transition_legal_and_illegal(branch, state, to):
    # given a complaint in `state`
    _boss, manager, member = branch
    start = club_time(FRIDAY, 9)
    complaint = walk(receive(member, at=start, by=manager.user), state, at=start)
    at = start + dt.timedelta(hours=1)
    if to in EXPECTED[state]:
        # when it moves where the machine allows, then it is there, with a step
        moved = services.complaint_transition(complaint=complaint, to=to, at=at, actor=manager.user, note="ok")
        assert Complaint.objects.get(pk=moved.pk).state == to
        assert ComplaintStep.objects.filter(complaint=complaint, to_state=to, from_state=state).exists()
    else:
        # when it is asked to move elsewhere, then a 409 names the allowed moves and nothing changes
        with pytest.raises(RuleViolation) as refused:
            services.complaint_transition(complaint=complaint, to=to, at=at, actor=manager.user)
        assert refused.value.code == "invalid_transition"
        assert set(refused.value.fields["allowed"]) == EXPECTED[state]
        assert Complaint.objects.get(pk=complaint.pk).state == state


def test_an_escalated_complaint_goes_on_from_where_it_stood(branch):
    # given a complaint acknowledged and replied to, then escalated
    _boss, manager, member = branch
    start = club_time(FRIDAY, 9)
    complaint = walk(receive(member, at=start, by=manager.user), "replied", at=start)
    complaint = services.complaint_transition(complaint=complaint, to="escalated", at=club_time(FRIDAY, 12), actor=None)
    # then only resolving is left
    with pytest.raises(RuleViolation) as refused:
        services.complaint_transition(complaint=complaint, to="replied", at=club_time(FRIDAY, 13), actor=None)
    assert refused.value.fields["allowed"] == ["resolved"]


def test_friday_17h_complaint_is_late_for_its_reply_on_sunday_17h_and_escalated_by_the_next_run(branch):
    # given a complaint received Friday 17:00 and acknowledged at once, never replied to
    boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 17), by=manager.user)
    services.complaint_transition(complaint=complaint, to="acknowledged", at=club_time(FRIDAY, 18), actor=manager.user)
    # when the job runs on Sunday at 17:00 sharp, then its reply is due, not late yet
    assert services.complaints_escalate_late(at=club_time(SUNDAY, 17)) == {"escalated": 0, "notified": 0}
    # when the next run comes after Sunday 17:00 (the daily job on Monday morning)
    counts = services.complaints_escalate_late(at=club_time(MONDAY, 6))
    # then it is escalated for its reply, the branch's supervisor is told, and the audit trail has it
    complaint.refresh_from_db()
    assert counts == {"escalated": 1, "notified": 1}
    assert complaint.state == "escalated" and complaint.escalated and complaint.lateness == rules.LATE_REPLY
    assert complaint.escalated_at == club_time(MONDAY, 6)
    note = Notification.objects.get(user=boss)
    assert f"#{complaint.pk}" in note.text and "reply" in note.text
    assert ActionLog.objects.filter(action="complaint_escalated", object_id=str(complaint.pk)).count() == 1
    # when the job runs again, then nothing is escalated twice
    assert services.complaints_escalate_late(at=club_time(MONDAY, 7))["escalated"] == 0
    # and the owner can still reply, then resolve
    services.complaint_transition(complaint=complaint, to="replied", at=club_time(MONDAY, 9), actor=manager.user)


def test_the_frequent_task_escalates_an_unacknowledged_complaint_after_2_hours(branch, vipclub_celery):
    # given a complaint received Friday 17:00, not acknowledged
    boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 17), by=manager.user)
    from service.tasks import escalate_late_task

    # when the beat task runs at 19:10
    escalate_late_task.delay(at=club_time(FRIDAY, 19, 10).isoformat())
    # then it is escalated as late to be acknowledged
    complaint.refresh_from_db()
    assert complaint.state == "escalated" and complaint.lateness == rules.LATE_ACK
    # and when it is still not replied to on Sunday evening, it is escalated once more, for its reply
    services.complaints_escalate_late(at=club_time(SUNDAY, 18))
    complaint.refresh_from_db()
    assert complaint.lateness == rules.LATE_REPLY
    assert Notification.objects.filter(user=boss).count() == 2


def test_compensation_of_200_points_posts_once_and_reverses_on_reopen(branch):
    # given a member with 500 points and a complaint replied to
    _boss, manager, member = branch
    points_services.points_compensate(customer=member, points=500, reference="seed", idempotency_key="seed", on=FRIDAY)
    start = club_time(FRIDAY, 9)
    complaint = walk(receive(member, at=start, by=manager.user), "replied", at=start)
    # when it is resolved with 200 points of compensation
    complaint = services.complaint_transition(
        complaint=complaint, to="resolved", at=club_time(FRIDAY, 15), actor=manager.user, compensation={"points": 200}
    )
    # then 200 points are posted once, with the complaint as reference, and the ledger holds
    assert balance(member) == 700
    posted = PointsEntry.objects.filter(reference=f"complaint:{complaint.pk}")
    assert [e.amount for e in posted] == [200]
    assert_ledger_sound()
    # when it is reopened, then the 200 points are taken back, once
    complaint = services.complaint_transition(complaint=complaint, to="reopened", at=club_time(FRIDAY, 16), actor=None)
    assert balance(member) == 500
    assert [e.amount for e in PointsEntry.objects.filter(reference__startswith=f"complaint:{complaint.pk}")] == [
        200,
        -200,
    ]
    assert_ledger_sound()
    # when it is resolved again without compensation, nothing more is posted
    services.complaint_transition(complaint=complaint, to="resolved", at=club_time(FRIDAY, 17), actor=None)
    assert balance(member) == 500
    assert_ledger_sound()


def test_reopening_after_the_member_spent_her_compensation_takes_back_only_what_is_left(branch):
    # given a complaint resolved with 200 points, 150 of which the member redeemed
    _boss, manager, member = branch
    start = club_time(FRIDAY, 9)
    complaint = walk(receive(member, at=start, by=manager.user), "replied", at=start)
    services.complaint_transition(
        complaint=complaint, to="resolved", at=club_time(FRIDAY, 15), actor=None, compensation={"points": 200}
    )
    points_services.points_redeem(customer=member, points=150, on=FRIDAY)
    # when it is reopened
    services.complaint_transition(complaint=complaint, to="reopened", at=club_time(FRIDAY, 16), actor=None)
    # then the 50 points left are taken back, the balance never goes below zero, and the ledger holds
    assert balance(member) == 0
    assert_ledger_sound()
    assert ActionLog.objects.get(action="complaint_compensation_reversed").details["taken_back"] == 50


def test_compensation_only_when_resolving_and_in_whole_points(branch):
    _boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 9), by=manager.user)
    with pytest.raises(InvalidInput) as bad:
        services.complaint_transition(
            complaint=complaint, to="acknowledged", at=club_time(FRIDAY, 10), actor=None, compensation={"points": 5}
        )
    assert "compensation" in bad.value.fields


def test_handover_with_a_note_changes_the_owner_and_tells_her(branch, django_user_model):
    # given a complaint the hotline agent received
    _boss, manager, member = branch
    agent = django_user_model.objects.create_user(username="hotline-7")
    complaint = receive(member, at=club_time(FRIDAY, 9), by=agent)
    # when she hands it on to the member's manager with a note
    services.complaint_handover(
        complaint=complaint, owner=manager.user, note="会员要求经理回电", at=club_time(FRIDAY, 10), actor=agent
    )
    # then the manager owns it, the step and the audit row say who and why, and the manager is told
    complaint.refresh_from_db()
    assert complaint.owner == manager.user and complaint.received_by == agent
    step = ComplaintStep.objects.get(complaint=complaint, action="handover")
    assert step.note == "会员要求经理回电" and step.actor_label == "hotline-7"
    log = ActionLog.objects.get(action="complaint_handed_over")
    assert log.details["from_owner"] == "hotline-7" and log.details["to_owner"] == manager.user.username
    assert Notification.objects.filter(user=manager.user, kind__startswith=f"complaint:{complaint.pk}").exists()
    # and a hand-over needs a note
    with pytest.raises(InvalidInput) as bad:
        services.complaint_handover(complaint=complaint, owner=agent, note=" ", at=club_time(FRIDAY, 11), actor=None)
    assert set(bad.value.fields) == {"note"}


def test_a_list_action_moves_the_complaints_it_can_and_names_each_one_it_cannot(branch, admin_client):
    _boss, manager, member = branch
    at = club_time(MONDAY, 9)
    fresh = receive(member, at=at, by=manager.user)
    closed = walk(receive(member, at=at, by=manager.user), "resolved", at=at)
    services.complaint_transition(complaint=closed, to="closed", at=at + dt.timedelta(hours=1), actor=None)
    # when the club admin acknowledges both with the list's action
    with translation.override("en"):
        response = admin_client.post(
            "/admin/service/complaint/",
            {"action": "acknowledge", "_selected_action": [fresh.pk, closed.pk]},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="en",
        )
    # then the new one is acknowledged, the closed one stays closed; she reads which one did not move and why
    assert Complaint.objects.get(pk=fresh.pk).state == "acknowledged"
    assert Complaint.objects.get(pk=closed.pk).state == "closed"
    assert [str(m) for m in response.context["messages"]] == [
        f"#{closed.pk}: This complaint cannot move there now; allowed: —.",
        "1 complaints moved to “Acknowledged”.",
    ]
