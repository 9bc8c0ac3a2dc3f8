"""Satisfaction surveys (DOMAIN §9): the triggers (idempotent by reference) and the quarterly sample."""

import datetime as dt
from collections import defaultdict

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.factories import RegionFactory
from managers.models import Obligation, ObligationKind, ObligationStatus
from managers.tests.helpers import make_manager, make_member
from retention.models import RetentionCase
from service import services, surveys
from service.factories import club_time, members, receive, walk
from service.models import Survey, SurveySend, SurveyTrigger

pytestmark = pytest.mark.django_db

QUARTER_STARTS = [dt.date(2027, 1, 1), dt.date(2027, 4, 1), dt.date(2027, 7, 1), dt.date(2027, 10, 1)]


def test_the_surveys_are_seeded_one_per_trigger():
    # given the migrations, then there is an active survey for every trigger, the sample at 5 % and 180 days
    assert set(Survey.objects.filter(active=True).values_list("trigger", flat=True)) == set(SurveyTrigger.values)
    sample = Survey.objects.get(trigger="sample")
    assert sample.sample_percent == 5 and sample.repeat_days == 180


def test_a_resolved_complaint_sends_its_survey_once():
    # given a member's complaint
    manager = make_manager("AM1")
    member = make_member(manager=manager)
    at = club_time(dt.date(2026, 11, 16))
    complaint = walk(receive(member, at=at, by=manager.user), "resolved", at=at, actor=manager.user)
    # then resolving it sent her the complaint survey, counted at her branch, tier and manager
    send = SurveySend.objects.get(customer=member)
    assert (send.trigger, send.reference) == ("complaint", f"complaint:{complaint.pk}")
    assert send.manager_id == manager.pk and send.tier.code == "gold" and send.region_id == member.region_id
    # when it is reopened and resolved again, then no second survey goes out
    complaint = services.complaint_transition(
        complaint=complaint, to="reopened", at=at + dt.timedelta(hours=1), actor=manager.user
    )
    services.complaint_transition(complaint=complaint, to="resolved", at=at + dt.timedelta(hours=2), actor=None)
    assert SurveySend.objects.filter(customer=member).count() == 1


def test_closed_cases_and_first_contacts_are_picked_up_once():
    # given a retention case closed yesterday and a first contact done yesterday, and an open case
    manager = make_manager("AM1")
    kept, greeted, still_open = (make_member(manager=manager) for _ in range(3))
    today = dt.date(2026, 11, 20)
    yesterday = club_time(today - dt.timedelta(days=1), 15)
    case = RetentionCase.objects.create(
        customer=kept, manager=manager, state="retained", opened_at=yesterday, closed_at=yesterday
    )
    type(still_open).objects.filter(pk=still_open.pk).update(status="pending_closure")  # an open case needs it
    RetentionCase.objects.create(customer=still_open, manager=manager, state="open", opened_at=yesterday)
    first = Obligation.objects.create(
        customer=greeted,
        manager=manager,
        kind=ObligationKind.FIRST_CONTACT,
        period="first",
        opened_on=today - dt.timedelta(days=3),
        due_on=today,
        status=ObligationStatus.DONE,
        done_at=yesterday,
    )
    # when the daily step runs
    counts = surveys.surveys_daily(on=today, at=club_time(today, 7), seed=1)
    # then each closed case and completed first contact got its survey, the open case none
    assert counts["retention"] == 1 and counts["first_contact"] == 1
    refs = set(SurveySend.objects.exclude(trigger="sample").values_list("customer_id", "reference"))
    assert refs == {(kept.pk, f"retention:{case.pk}"), (greeted.pk, f"first_contact:{first.pk}")}
    # when it runs again (a retry, or the next day within the look-back), then nothing is sent twice
    again = surveys.surveys_daily(on=today + dt.timedelta(days=1), at=club_time(today, 8), seed=1)
    assert again == {"retention": 0, "first_contact": 0, "sample": 0}


def test_the_quarterly_sample_takes_five_percent_of_each_branch_deterministically():
    # given 40 members in one branch and 21 in another
    gz, sz = RegionFactory(code="GZ"), RegionFactory(code="SZ", name="深圳")
    members(40, region=gz)
    members(21, region=sz)
    on = QUARTER_STARTS[0]
    # when the quarter's sample is drawn with a seed
    with transaction.atomic():
        surveys.surveys_daily(on=on, at=club_time(on, 7), seed=42)
        first = set(SurveySend.objects.filter(trigger="sample").values_list("customer_id", flat=True))
        transaction.set_rollback(True)
    # then ceil(5 %) of each branch: 2 of 40 and 2 of 21, and the same seed draws the same members
    surveys.surveys_daily(on=on, at=club_time(on, 7), seed=42)
    sample = SurveySend.objects.filter(trigger="sample")
    assert sample.filter(region=gz).count() == 2 and sample.filter(region=sz).count() == 2
    assert set(sample.values_list("customer_id", flat=True)) == first
    assert set(sample.values_list("reference", flat=True)) == {"2027-Q1"}
    # when the step runs again in the quarter, then no second sample is drawn
    assert surveys.surveys_daily(on=on + dt.timedelta(days=5), at=club_time(on, 7))["sample"] == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offsets=st.lists(
        st.integers(min_value=0, max_value=89), min_size=4, max_size=4
    ),  # a day of its quarter (Q1 2027 has 90 days)
    seeds=st.lists(st.integers(min_value=0, max_value=10**6), min_size=4, max_size=4),
    percent=st.sampled_from(["5", "20", "50", "100"]),
)
def test_the_survey_sample_never_picks_a_member_twice_within_180_days(offsets, seeds, percent):
    # given two branches of members and the sample's share
    with transaction.atomic():
        gz, sz = RegionFactory(code="GZ"), RegionFactory(code="SZ", name="深圳")
        members(12, region=gz)
        members(7, region=sz)
        Survey.objects.filter(trigger="sample").update(sample_percent=percent)
        # when a year of quarterly samples is drawn, each on some day of its quarter with any seed
        for start, offset, seed in zip(QUARTER_STARTS, offsets, seeds, strict=True):
            on = start + dt.timedelta(days=offset)
            surveys.surveys_daily(on=on, at=club_time(on, 7), seed=seed)
        # then no member was sampled twice within 180 days
        days = defaultdict(list)
        for customer_id, sent_on in SurveySend.objects.filter(trigger="sample").values_list("customer_id", "sent_on"):
            days[customer_id].append(sent_on)
        for sent in days.values():
            sent.sort()
            assert all((b - a).days > 180 for a, b in zip(sent, sent[1:], strict=False))
        # and the first quarter drew its share of each branch (ceil: at least one each)
        assert SurveySend.objects.filter(trigger="sample", reference="2027-Q1").values("region").distinct().count() == 2
        transaction.set_rollback(True)


def test_the_answer_goes_to_the_latest_open_survey():
    # given a member surveyed after her complaint
    manager = make_manager("AM1")
    member = make_member(manager=manager)
    at = club_time(dt.date(2026, 11, 16))
    walk(receive(member, at=at, by=manager.user), "resolved", at=at, actor=manager.user)
    # when she answers 4, then the survey is answered
    answer = surveys.survey_answer(
        customer=member, score=4, answered_at=at + dt.timedelta(days=1), actor=None, channel="sms"
    )
    assert answer.send.answered and answer.answered_on == dt.date(2026, 11, 17)
    assert timezone.is_aware(answer.answered_at)
