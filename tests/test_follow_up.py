"""The monthly follow-up of an applied run (vipclub.pipeline) runs once per run and in order, and the demo seed
goes through the production workflows (issue 13, deliverable 5)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from benefits.models import BenefitAccount, BenefitEntry
from core import dates
from customers.models import Customer
from points.models import PointsAccount
from retention.models import RiskScore
from tiers.models import RatingRun
from tiers.tests.helpers import population, run_month
from vipclub import demo, pipeline
from vipclub.models import InboundEvent

from .test_commands import AS_OF, run, var_dir  # noqa: F401  (var_dir is a fixture)

M = dt.date(2026, 12, 1)  # the month of `population`

pytestmark = pytest.mark.django_db


def ledger_state() -> dict:
    """What a replay must not change: the benefit ledger, the accounts, the risk list and its date."""
    return {
        "entries": BenefitEntry.objects.count(),
        "accounts": sorted(BenefitAccount.objects.values_list("id", "period_key", "granted", "used")),
        "risk": sorted(RiskScore.objects.values_list("customer_id", "score", "as_of")),
    }


@pytest.fixture
def queued_follow_ups(monkeypatch):
    """The follow-ups sent to the broker (recorded instead of run)."""
    sent = []
    monkeypatch.setattr(pipeline.monthly_pipeline_task, "delay", lambda run_id: sent.append(run_id))
    return sent


def test_the_seed_queues_no_follow_up_it_ran_and_a_replay_of_its_follow_ups_changes_nothing(
    var_dir,  # noqa: F811
    queued_follow_ups,
    django_capture_on_commit_callbacks,
):
    # given a demo club seeded as `make run` seeds it (its on-commit work done, as outside a test transaction)
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--customers", "60", "--as-of", AS_OF.isoformat(), "--seed", "7")
    runs = list(RatingRun.objects.filter(dry_run=False).order_by("month"))
    assert len(runs) == demo.DEMO_RATED_MONTHS  # a year of tier history
    # then the seed ran the last two runs' follow-ups itself, marked the older ones followed up (skipped: a later
    # run was), and left none in the queue for the first worker
    assert queued_follow_ups == []
    assert all(r.pipeline_done_at and r.pipeline_steps == [s.__name__ for s in pipeline.STEPS] for r in runs[-2:])
    assert all(r.pipeline_done_at and r.pipeline_steps == [] for r in runs[:-2])
    before = ledger_state()
    assert before["entries"] > 0 and before["risk"]
    assert {as_of for *_, as_of in before["risk"]} == {AS_OF}

    # when a worker replays the follow-ups anyway, oldest first (what the first `make run` did)
    for old in runs:
        pipeline.monthly_pipeline(run_id=old.pk)

    # then the ledger has no extra grants or expiries, and the risk list keeps its day
    assert ledger_state() == before


def test_an_older_runs_follow_up_after_a_newer_one_does_nothing(settings):
    # given two applied months; the newer one's follow-up has run, the older one's has not
    population(8)
    older = run_month(dates.add_months(M, -1), settings=settings, chunk_size=4)
    newer = run_month(M, settings=settings, chunk_size=4)
    pipeline.monthly_pipeline(run_id=newer.pk)
    before = ledger_state()
    assert before["entries"] > 0

    # when the older run's follow-up arrives late
    pipeline.monthly_pipeline(run_id=older.pk)

    # then it changes nothing (no expired period re-opened), and the run records why it was skipped
    assert ledger_state() == before
    older.refresh_from_db()
    assert older.pipeline_done_at is not None and older.pipeline_steps == []
    assert f"#{newer.pk}" in older.pipeline_note

    # and the newer run's follow-up a second time changes nothing either
    pipeline.monthly_pipeline(run_id=newer.pk)
    assert ledger_state() == before


def test_a_follow_up_interrupted_between_steps_resumes_after_the_last_step_done(settings, monkeypatch):
    # given an applied month whose follow-up fails in its fourth step
    population(8)
    applied = run_month(M, settings=settings, chunk_size=4)
    calls = []
    steps = [*pipeline.STEPS]

    def tracking(step):
        def run_step(*, run, on=None):
            calls.append(step.__name__)
            if step is steps[3] and calls.count(step.__name__) == 1:
                raise RuntimeError("worker lost")
            step(run=run, on=on)

        run_step.__name__ = step.__name__
        return run_step

    monkeypatch.setattr(pipeline, "STEPS", [tracking(s) for s in steps])
    with pytest.raises(RuntimeError):
        pipeline.monthly_pipeline(run_id=applied.pk)
    applied.refresh_from_db()
    assert applied.pipeline_steps == [s.__name__ for s in steps[:3]] and applied.pipeline_done_at is None

    # when it runs again: only the steps not done run
    pipeline.monthly_pipeline(run_id=applied.pk)
    applied.refresh_from_db()
    assert calls == [s.__name__ for s in steps[:4]] + [s.__name__ for s in steps[3:]]
    assert applied.pipeline_steps == [s.__name__ for s in steps] and applied.pipeline_done_at is not None


def test_the_seeded_suspensions_go_through_the_events_workflow(var_dir):  # noqa: F811
    # when a demo club is seeded
    run("seed_demo", "--customers", "120", "--as-of", AS_OF.isoformat(), "--seed", "3")

    # then every suspended customer was suspended as the events API suspends: the event recorded, points frozen
    suspended = list(Customer.objects.filter(status="suspended"))
    assert suspended
    for customer in suspended:
        event = InboundEvent.objects.get(msisdn=customer.msisdn, type="suspended")
        assert event.status_code == 201 and event.data == {"kind": customer.suspension_kind}
        account = PointsAccount.objects.get(customer=customer)
        assert (account.frozen, account.frozen_reason) == (True, "suspended")
        assert account.frozen_at == event.occurred_at
    assert (
        not PointsAccount.objects.filter(frozen=True)
        .exclude(customer__in=suspended)
        .exclude(customer__status__in=["pending_closure", "closed"])
        .exists()
    )


def test_new_members_are_assigned_on_the_day_the_follow_up_runs_so_first_contacts_are_not_born_overdue(settings):
    # given December 2026's run (evaluated on 1 December) applied, its follow-up waiting for billing to close, and
    # an account manager in every branch of the new members
    from customers.models import Region
    from managers.daily import daily_run
    from managers.factories import ManagerFactory
    from managers.models import Assignment, Obligation

    population(8)
    run = run_month(M, settings=settings, chunk_size=4)
    for region in Region.objects.all():
        ManagerFactory(region=region, capacity=100)

    # when the follow-up runs on Monday 7 December 2026 (the worker's clock), and the daily job of that day
    with time_machine.travel(dt.datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        pipeline.monthly_pipeline(run_id=run.pk)
    daily_run(on=dt.date(2026, 12, 7), at=dt.datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))

    # then the assignments are dated 7 December and the first contacts are due 3 working days later, still open
    assert set(Assignment.objects.values_list("started_on", flat=True)) == {dt.date(2026, 12, 7)}
    first = set(Obligation.objects.filter(kind="first_contact").values_list("opened_on", "due_on", "status"))
    assert first == {(dt.date(2026, 12, 7), dt.date(2026, 12, 10), "open")}
