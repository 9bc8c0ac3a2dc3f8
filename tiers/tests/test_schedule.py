"""The daily scheduler call: start due monthly runs once last month is closed; resume stalled runs."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import BillingMonth
from tiers import services
from tiers.models import RatingRun
from tiers.tests.helpers import annual_policy, make_customer

pytestmark = pytest.mark.django_db


def test_starts_the_month_once_its_run_day_came_and_last_month_is_closed(django_capture_on_commit_callbacks):
    make_customer()
    policy = annual_policy()
    policy.run_day = 2
    policy.save()
    # before the run day: nothing
    assert services.tier_runs_scheduled(on=dt.date(2026, 12, 1), now=timezone.now()) == []
    # on the run day with November still open: refused, retried the next day
    assert services.tier_runs_scheduled(on=dt.date(2026, 12, 2), now=timezone.now()) == []
    assert not RatingRun.objects.exists()
    BillingMonth.objects.create(month=dt.date(2026, 11, 1), closed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        started = services.tier_runs_scheduled(on=dt.date(2026, 12, 3), now=timezone.now())
    run = RatingRun.objects.get()
    assert started == [run.pk]
    # evaluated as of its run day, whenever it actually ran; done by the (eager) workers
    assert (run.month, run.evaluation_date, run.status, run.forced) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 2),
        "done",
        False,
    )
    # once per policy and month
    assert services.tier_runs_scheduled(on=dt.date(2026, 12, 4), now=timezone.now()) == []
    assert RatingRun.objects.count() == 1


def test_resumes_a_run_that_stopped_making_progress(django_capture_on_commit_callbacks):
    make_customer()
    BillingMonth.objects.create(month=dt.date(2026, 11, 1), closed_at=timezone.now())
    run, _ = services.tier_run_start(month=dt.date(2026, 12, 1), dispatch=False)
    two_hours_ago = timezone.now() - dt.timedelta(hours=2)
    RatingRun.objects.filter(pk=run.pk).update(
        status="running", created_at=two_hours_ago, started_at=two_hours_ago, dispatched_at=two_hours_ago
    )
    with django_capture_on_commit_callbacks(execute=True):
        touched = services.tier_runs_scheduled(on=dt.date(2026, 12, 15), now=timezone.now())
    run.refresh_from_db()
    assert touched == [run.pk]
    assert run.status == "done"


def test_inactive_policies_are_not_scheduled():
    make_customer()
    BillingMonth.objects.create(month=dt.date(2026, 11, 1), closed_at=timezone.now())
    policy = annual_policy()
    policy.active = False
    policy.save()
    assert services.tier_runs_scheduled(on=dt.date(2026, 12, 1), now=timezone.now()) == []
