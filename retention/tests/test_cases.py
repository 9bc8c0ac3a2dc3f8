"""Retention cases (DOMAIN §8) through the services and the lifecycle composition: opening on a closure request,
a second request joining, every transition legal and illegal, the logged steps, offers and home visits, retained
cancelling the closure request, and a closure churning the case and recording the churn."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.errors import InvalidInput, RuleViolation
from managers.models import Assignment, ContactLog, Obligation
from managers.tests.helpers import make_manager
from points.models import PointsAccount
from retention import rules, services
from retention.models import CaseStep, ChurnRecord, RetentionCase, RetentionOffer
from retention.tests.helpers import member, walk
from tiers.models import CustomerTier, TierChange

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEDNESDAY_30_SEP = dt.datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)  # National Day follows


@pytest.fixture
def manager():
    return make_manager("E100")


@pytest.fixture
def gold(manager):
    return member(manager=manager, tier="gold")


def open_case(customer, **kwargs) -> RetentionCase:
    kwargs.setdefault("at", WEDNESDAY_30_SEP)
    case, _ = services.closure_request(customer=customer, **kwargs)
    return case


def test_a_closure_request_opens_a_case_for_the_manager_with_a_contact_due_in_one_working_day(gold, manager):
    # when: a hotline request on Wednesday 30 September 2026 (National Day holidays from 1 to 7 October)
    case, opened = services.closure_request(
        customer=gold, channel="hotline", reason="competitor_offer", at=WEDNESDAY_30_SEP, source="event:h-1"
    )
    # then: pending closure, points frozen, one open case owned by the manager
    gold.refresh_from_db()
    assert opened and gold.status == "pending_closure"
    assert PointsAccount.objects.get(customer=gold).frozen
    assert (case.state, case.manager, case.channel, case.reason_category) == (
        "open",
        manager,
        "hotline",
        "competitor_offer",
    )
    obligation = Obligation.objects.get(customer=gold, kind="retention_contact")
    assert (obligation.manager, obligation.due_on) == (manager, dt.date(2026, 10, 8))  # the first working day after
    step = case.steps.get()
    assert (step.action, step.from_state, step.to_state, step.actor_label, step.at) == (
        "opened",
        "",
        "open",
        "event:h-1",
        WEDNESDAY_30_SEP,
    )


def test_a_second_request_joins_the_open_case(gold):
    first = open_case(gold, channel="hotline")
    second, opened = services.closure_request(customer=gold, channel="hall", reason="tariff", source="hall")
    assert not opened and second.pk == first.pk
    assert RetentionCase.objects.count() == 1
    assert Obligation.objects.filter(kind="retention_contact").count() == 1
    second.refresh_from_db()
    assert (second.requests, second.reason_category) == (2, "tariff")
    assert list(second.steps.values_list("action", flat=True)) == ["opened", "request_joined"]


def test_a_closure_request_for_a_closed_customer_is_refused(gold):
    gold.status, gold.closure_kind = "closed", "voluntary"
    gold.save()
    with pytest.raises(RuleViolation) as refused:
        services.closure_request(customer=gold)
    assert refused.value.code == "invalid_transition"
    assert not RetentionCase.objects.exists()


def test_a_non_member_gets_a_case_without_a_manager_nor_an_obligation():
    customer = member(tier=None)
    case = open_case(customer)
    assert case.manager is None and not Obligation.objects.exists()


LEGAL = sorted((state, to) for state, targets in rules.CASE_TRANSITIONS.items() for to in targets)
ILLEGAL = sorted(
    (state, to) for state in rules.STATES for to in rules.STATES if to not in rules.CASE_TRANSITIONS[state]
)


@pytest.mark.parametrize(("state", "to"), LEGAL)
def test_every_legal_transition_moves_the_case_and_logs_who_when_and_what(gold, manager, state, to):
    case = walk(open_case(gold), state)
    at = dt.datetime(2026, 10, 9, 15, 0, tzinfo=SHANGHAI)
    moved = services.case_transition(
        case=case,
        to=to,
        actor=manager.user,
        note="回访",
        at=at,
        offer="plan_discount" if to == "offer_made" else "",
        visit_on=dt.date(2026, 10, 12) if to == "escalated" else None,
    )
    assert moved.state == to
    step = CaseStep.objects.filter(case=case).latest("id")
    assert (step.from_state, step.to_state, step.actor, step.actor_label, step.at, step.note) == (
        state,
        to,
        manager.user,
        manager.user.username,
        at,
        "回访",
    )
    if to == "offer_made":
        assert step.offer.code == "plan_discount" and moved.offer.code == "plan_discount"
    assert (moved.closed_at is not None) == (to in ("retained", "churned"))


@pytest.mark.parametrize(("state", "to"), ILLEGAL)
def test_every_illegal_transition_is_refused_naming_the_allowed_ones(gold, state, to):
    case = walk(open_case(gold), state)
    steps = CaseStep.objects.filter(case=case).count()
    with pytest.raises(RuleViolation) as refused:
        services.case_transition(case=case, to=to, actor=None, offer="plan_discount", visit_on=dt.date(2026, 10, 12))
    assert refused.value.code == "invalid_transition"
    assert refused.value.fields["allowed"] == list(rules.CASE_TRANSITIONS[state])
    case.refresh_from_db()
    assert case.state == state and CaseStep.objects.filter(case=case).count() == steps


def test_an_unknown_state_is_bad_input_naming_the_field(gold):
    with pytest.raises(InvalidInput) as bad:
        services.case_transition(case=open_case(gold), to="happy", actor=None)
    assert "to" in bad.value.fields


def test_an_offer_comes_from_the_active_catalog(gold):
    case = walk(open_case(gold), "contacted")
    with pytest.raises(InvalidInput) as missing:
        services.case_transition(case=case, to="offer_made", actor=None)
    assert "offer" in missing.value.fields
    RetentionOffer.objects.filter(code="data_bonus").update(active=False)
    with pytest.raises(InvalidInput):
        services.case_transition(case=case, to="offer_made", actor=None, offer="data_bonus")
    case.refresh_from_db()
    assert case.state == "contacted"


def test_an_escalation_plans_a_home_visit_with_a_contact_due_that_day(gold, manager):
    case = walk(open_case(gold), "declined")
    with pytest.raises(InvalidInput) as missing:
        services.case_transition(case=case, to="escalated", actor=None)
    assert "visit_on" in missing.value.fields
    with pytest.raises(InvalidInput):
        services.case_transition(case=case, to="escalated", actor=None, visit_on=dt.date(2026, 9, 1))
    case = services.case_transition(case=case, to="escalated", actor=None, visit_on=dt.date(2026, 10, 12))
    assert case.visit_on == dt.date(2026, 10, 12)
    visit = Obligation.objects.get(customer=gold, period=f"case{case.pk}-visit")
    assert (visit.kind, visit.due_on, visit.manager) == ("retention_contact", dt.date(2026, 10, 12), manager)


def test_contacted_with_a_channel_logs_the_call_and_closes_the_retention_contact(gold, manager):
    case = open_case(gold)
    services.case_transition(
        case=case,
        to="contacted",
        actor=manager.user,
        channel="call",
        note="不想走了？",
        at=dt.datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI),
    )
    log = ContactLog.objects.get(customer=gold)
    assert (log.channel, log.outcome, log.source, log.note) == ("call", "reached", "retention", "不想走了？")
    assert Obligation.objects.get(customer=gold, kind="retention_contact").status == "done"


def test_retained_cancels_the_closure_request_through_the_lifecycle(gold):
    case = walk(open_case(gold), "retained")
    gold.refresh_from_db()
    assert gold.status == "active"
    assert not PointsAccount.objects.get(customer=gold).frozen
    assert case.state == "retained" and case.closed_at is not None
    # the lifecycle's own step (closure cancelled) found no open case: the case keeps its last step
    assert case.steps.latest("id").to_state == "retained"
    assert case.steps.filter(action="closure_cancelled").count() == 0


def test_a_cancelled_closure_request_retains_the_open_case(gold):
    case = walk(open_case(gold), "considering")
    services.customer_lifecycle(customer=gold, action="cancel_closure", source="event:c-1")
    case.refresh_from_db()
    assert case.state == "retained"
    assert case.steps.latest("id").action == "closure_cancelled"


def test_a_closure_churns_the_case_and_records_the_churn_through_the_other_apps(gold, manager):
    case = walk(open_case(gold), "escalated")
    at = dt.datetime(2026, 10, 20, 11, 0, tzinfo=SHANGHAI)
    services.customer_lifecycle(customer=gold, action="close", kind="voluntary", at=at, source="event:x-9")
    case.refresh_from_db()
    assert case.state == "churned" and case.steps.latest("id").action == "closed"
    record = ChurnRecord.objects.get(customer=gold)
    assert (record.closed_on, record.kind, record.tier.code, record.region, record.manager, record.case) == (
        dt.date(2026, 10, 20),
        "voluntary",
        "gold",
        gold.region,
        manager,
        case,
    )
    # the tier is removed (history), the assignment ended, open obligations cancelled, points cleared and frozen
    assert CustomerTier.objects.get(customer=gold).tier is None
    assert TierChange.objects.filter(customer=gold).latest("id").reason == "closure"
    assignment = Assignment.objects.get(customer=gold)
    assert (assignment.ended_on, assignment.end_reason) == (dt.date(2026, 10, 20), "closed")
    assert not Obligation.objects.filter(customer=gold, status__in=["open", "overdue"]).exists()
    account = PointsAccount.objects.get(customer=gold)
    assert account.frozen and account.balance == 0


def test_an_arrears_closure_after_a_suspension_records_churn_without_a_case(gold):
    services.customer_lifecycle(customer=gold, action="suspend", kind="arrears")
    services.customer_lifecycle(
        customer=gold, action="close", kind="arrears", at=dt.datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
    )
    record = ChurnRecord.objects.get(customer=gold)
    assert (record.kind, record.tier.code, record.case) == ("arrears", "gold", None)


def test_the_usual_paths_are_legal_and_reach_their_state():
    for target, path in rules.USUAL_PATHS.items():
        assert (path[-1] if path else "open") == target
        state = "open"
        for to in path:
            assert rules.transition_problem(state, to) is None
            state = to


def test_a_case_that_ends_owes_no_more_retention_contacts(gold):
    case = walk(open_case(gold), "escalated")
    assert Obligation.objects.filter(customer=gold, kind="retention_contact", status="open").count() == 2
    services.case_transition(case=case, to="churned", actor=None, note="搬去外省")
    assert set(Obligation.objects.filter(customer=gold, kind="retention_contact").values_list("status", flat=True)) == {
        "cancelled"
    }
    # the customer stays pending closure until billing closes the account (the `closed` event)
    gold.refresh_from_db()
    assert gold.status == "pending_closure"
