"""Jobs that heal themselves (issue 13, deliverable 5): stalled runs resumed within minutes of a worker's return (on
worker start and by beat's frequent check), a run start with the broker down accepted and dispatched later, the
broker's visibility timeout sized to the chunk, and the worker and beat heartbeats in health."""

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from core import dates
from core.models import JobHeartbeat
from tiers import services
from tiers.models import CustomerTier, RatingChunk, RatingRun, TierChange
from tiers.tasks import heal_runs_task, rerate_chunk_task
from tiers.tests.helpers import close_months, population, state_of
from vipclub.celery import app, heal_runs_on_worker_start

from .test_faults import QUICK, closed_port

M = dt.date(2026, 12, 1)  # the month of `population`
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def outcome(run: RatingRun, people) -> dict:
    """What a run did: its counts, its changes, the customers' tiers."""
    run.refresh_from_db()
    return {
        "status": run.status,
        "counts": run.counts,
        "changes": sorted(TierChange.objects.filter(run=run).values_list("customer_id", "transition", "to_tier__code")),
        "states": {c.pk: state_of(c) for c in people},
    }


def clean_run_outcome(people) -> dict:
    """The reference: the month run uninterrupted in this process, rolled back afterwards."""
    with transaction.atomic():
        run, _ = services.tier_run_start(month=M, dispatch=False)
        result = outcome(services.tier_run_execute(run=run, follow_up=False), people)
        transaction.set_rollback(True)
    return result


def age(run: RatingRun, **delta) -> None:
    """Everything that happened to the run so far happened `delta` ago."""
    ago = timezone.now() - dt.timedelta(**delta)
    RatingRun.objects.filter(pk=run.pk).update(created_at=ago, dispatched_at=ago, started_at=ago)
    RatingChunk.objects.filter(run=run, done=True).update(done_at=ago)


@pytest.fixture
def stalled_run(settings):
    """A month whose worker died after 2 of its 4 chunks: the run `running`, nothing acknowledged since."""
    settings.VIPCLUB_RATING_CHUNK_SIZE = 3
    people = population()
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    reference = clean_run_outcome(people)
    run, _ = services.tier_run_start(month=M, dispatch=False)
    for chunk_id in RatingChunk.objects.filter(run=run).values_list("id", flat=True)[:2]:
        services.tier_run_chunk(chunk_id=chunk_id)
    run.refresh_from_db()
    assert run.status == "running"
    return run, people, reference


# Beat's frequent check, and the check a starting worker sends ------------------------------------------------------


def test_beat_checks_for_stalled_runs_every_two_minutes():
    entry = app.conf.beat_schedule["heal-runs"]
    assert entry["task"] == "tiers.heal_runs"
    assert entry["schedule"].minute == set(range(0, 60, 2))
    assert django_settings.VIPCLUB_RUN_STALLED_AFTER <= 180  # a stalled run goes on within 2 + 3 minutes


def test_the_frequent_check_finishes_a_run_without_progress_for_minutes(
    stalled_run, settings, django_capture_on_commit_callbacks
):
    run, people, reference = stalled_run
    settings.VIPCLUB_RUN_STALLED_AFTER = 180
    # given: the last chunk done 2 minutes ago: not stalled yet, the check leaves the run alone
    age(run, minutes=2)
    assert heal_runs_task.delay().get() == {"dispatched": [], "followed_up": []}
    assert RatingRun.objects.get(pk=run.pk).status == "running"
    # when: beat's check comes once nothing moved for 4 minutes (tasks run inline here, as a worker would)
    age(run, minutes=4)
    with django_capture_on_commit_callbacks(execute=True):
        healed = heal_runs_task.delay().get()
    # then: only the unfinished chunks ran again, and the run ended as a clean run does, without anyone resuming it
    assert healed["dispatched"] == [run.pk]
    assert outcome(run, people) == reference
    assert list(RatingChunk.objects.filter(run=run).values_list("attempts", flat=True)) == [1, 1, 1, 1]
    # and its follow-up ran too (announced when it finished)
    assert RatingRun.objects.get(pk=run.pk).pipeline_done_at is not None


def test_a_starting_worker_resumes_a_stalled_run_at_once(stalled_run):
    run, people, reference = stalled_run
    # given: the worker was killed seconds ago (its messages wait in the broker until the visibility timeout)
    age(run, seconds=5)
    # when: a worker starts (celery's worker_ready signal)
    heal_runs_on_worker_start(sender=None)
    # then: the run is finished, with the result of a clean run
    assert outcome(run, people) == reference


def test_a_chunk_delivered_twice_is_done_once(stalled_run):
    run, _, _ = stalled_run
    first = RatingChunk.objects.filter(run=run, done=True).first()
    changes = TierChange.objects.filter(run=run).count()
    # when: a late copy of a done chunk's message arrives (the broker's visibility timeout ran out)
    rerate_chunk_task.delay(first.pk)
    # then: nothing is evaluated again
    first.refresh_from_db()
    assert first.attempts == 1
    assert TierChange.objects.filter(run=run).count() == changes
    assert RatingRun.objects.get(pk=run.pk).progress_done == 6


def test_a_follow_up_lost_with_its_worker_is_run_by_the_check():
    # given: a run finished 10 minutes ago whose follow-up never ran (its worker died)
    population(4)
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    run, _ = services.tier_run_start(month=M, dispatch=False)
    services.tier_run_execute(run=run, follow_up=False)
    RatingRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(minutes=10))
    # when: beat's check comes
    assert heal_runs_task.delay().get() == {"dispatched": [], "followed_up": [run.pk]}
    # then: the follow-up ran, and the next check has nothing to do
    run.refresh_from_db()
    assert run.pipeline_done_at is not None
    assert heal_runs_task.delay().get() == {"dispatched": [], "followed_up": []}


def test_failed_runs_are_left_for_a_person(stalled_run):
    run, _, _ = stalled_run
    RatingRun.objects.filter(pk=run.pk).update(status="failed", error="chunk 3: boom")
    age(run, hours=1)
    heal_runs_on_worker_start(sender=None)
    assert RatingRun.objects.get(pk=run.pk).status == "failed"


# The broker down at a run start --------------------------------------------------------------------------------


@pytest.fixture(params=["refused", "unroutable"])
def broker_down(request):
    """The Celery app publishing to a Redis that is not there (tasks not run inline: they go to the broker)."""
    host = f"127.0.0.1:{closed_port()}" if request.param == "refused" else "10.255.255.1:6379"
    conf = app.conf
    previous = (conf.broker_url, conf.task_always_eager, conf.broker_transport_options, conf.broker_connection_timeout)

    def point_at(url, eager, options, timeout):
        conf.broker_url, conf.task_always_eager, conf.broker_transport_options = url, eager, options
        conf.broker_connection_timeout = timeout
        app._pool = None  # connections and producers follow the new URL
        app.amqp._producer_pool = None

    # the project's Redis settings (vipclub/settings.py): 2 s to connect
    point_at(f"redis://{host}/0", False, {"socket_connect_timeout": 2, "visibility_timeout": 600}, 2)
    yield point_at
    point_at(*previous)


@pytest.mark.real_worker
def test_a_run_started_with_the_broker_down_is_accepted_and_dispatched_when_it_returns(
    broker_down, api, django_capture_on_commit_callbacks
):
    people = population(4)
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    # when: a run is started while the broker cannot be reached
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/rating-runs/", {"month": "2026-12"}, format="json")
    seconds = time.perf_counter() - started
    # then: accepted, promptly, and pending
    assert response.status_code == 202, response.content
    assert seconds < QUICK + 2, f"the start took {seconds:.1f} s"
    run = RatingRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.dispatched_at) == ("pending", None)
    assert api.get(f"/api/v1/rating-runs/{run.pk}/").json()["status"] == "pending"
    # when: a check comes while the broker is still down, then: nothing dispatched, the run still pending
    RatingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.tier_runs_heal(stalled_after=dt.timedelta(minutes=3), now=timezone.now())["dispatched"] == []
    assert RatingRun.objects.get(pk=run.pk).dispatched_at is None
    # when: the broker is back and beat's check comes (here: tasks inline, as a worker runs them)
    broker_down(django_settings.CELERY_BROKER_URL, True, django_settings.CELERY_BROKER_TRANSPORT_OPTIONS, 2)
    assert heal_runs_task.delay().get()["dispatched"] == [run.pk]
    # then: the run is done
    body = api.get(f"/api/v1/rating-runs/{run.pk}/").json()
    assert body["status"] == "done" and body["progress"] == {"done": len(people), "total": len(people)}


# The broker's visibility timeout -----------------------------------------------------------------------------------


def test_the_visibility_timeout_is_sized_to_the_chunk_not_an_hour():
    chunk_limit = rerate_chunk_task.time_limit
    assert chunk_limit == django_settings.VIPCLUB_CHUNK_TIME_LIMIT <= 300
    assert rerate_chunk_task.soft_time_limit < chunk_limit
    visibility = django_settings.VIPCLUB_BROKER_VISIBILITY_TIMEOUT
    assert chunk_limit < visibility <= 600
    if django_settings.REDIS_URL:
        assert app.conf.broker_transport_options["visibility_timeout"] == visibility


# Health: the worker and beat heartbeats ----------------------------------------------------------------------------


def beat(name: str, **ago) -> None:
    JobHeartbeat.objects.update_or_create(name=name, defaults={"last_run_at": timezone.now() - dt.timedelta(**ago)})


def test_health_is_degraded_without_a_worker(client):
    # given: no worker and no beat ever ran
    response = client.get("/api/v1/health/")
    # then: the web service is up (200), and health says the jobs are not running
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["worker"], body["beat"], body["worker_last_seen"], body["beat_last_seen"]) == (
        "missing",
        "missing",
        None,
        None,
    )


def test_health_is_ok_with_fresh_heartbeats_and_degraded_when_one_is_stale(client):
    beat("worker", seconds=20)
    beat("beat", seconds=40)
    body = client.get("/api/v1/health/").json()
    assert (body["status"], body["database"], body["broker"], body["worker"], body["beat"]) == (
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
    )
    assert body["last_heartbeat"] == body["beat_last_seen"]
    # when: the worker stopped 10 minutes ago (beat's heartbeat too: a worker records it)
    beat("worker", minutes=10)
    beat("beat", minutes=9)
    response = client.get("/api/v1/health/")
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["worker"], body["beat"]) == ("degraded", "stale", "stale")
    # when: only beat stopped
    beat("worker", seconds=5)
    body = client.get("/api/v1/health/").json()
    assert (body["status"], body["worker"], body["beat"]) == ("degraded", "ok", "stale")


@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_worker_records_its_own_heartbeat(client):
    from celery.contrib.testing.worker import start_worker

    # given no heartbeat, when a worker runs (doing nothing)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 10
        while not JobHeartbeat.objects.filter(name="worker").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        body = client.get("/api/v1/health/").json()
    # then health sees it
    assert body["worker"] == "ok", body


# A real worker killed with SIGKILL mid-run, then a new one started: nobody resumes the run ------------------------


def start_worker_process(log) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vipclub",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(worker: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_run_and_restarted_finishes_the_run_alone(settings):
    # given 12 customers in chunks of 3, the month closed, the result of a clean run, an empty queue
    settings.VIPCLUB_RATING_CHUNK_SIZE = 3
    people = population()
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    reference = clean_run_outcome(people)
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    blocker = people[7]  # in chunk 3; its current tier is an expired gold, so chunk 3 must write its row
    log = tempfile.TemporaryFile()
    worker = replacement = None
    try:
        # and a run started through the broker (its chunks sent when it commits)
        run, created = services.tier_run_start(month=M)
        assert created and RatingRun.objects.get(pk=run.pk).dispatched_at is not None
        # and a worker that gets stuck inside chunk 3 (a row lock held here)
        with transaction.atomic():
            CustomerTier.objects.select_for_update().get(customer=blocker)
            worker = start_worker_process(log)
            deadline = time.monotonic() + 60
            while RatingChunk.objects.filter(run=run, done=True).count() < 2 and time.monotonic() < deadline:
                assert worker.poll() is None, "the worker exited"
                time.sleep(0.1)
            time.sleep(1.0)
            assert worker.poll() is None
            # when: the worker (its whole process group) is killed with SIGKILL mid-run
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        run.refresh_from_db()
        assert run.status == "running"
        assert not RatingChunk.objects.get(run=run, lo__lte=blocker.pk, hi__gte=blocker.pk).done
        # and a new worker starts; nobody calls resume
        started = time.monotonic()
        replacement = start_worker_process(log)
        budget = 90  # the bound is 5 minutes; a worker start heals at once
        while time.monotonic() - started < budget:
            run.refresh_from_db()
            if run.status in ("done", "failed") and run.pipeline_done_at:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
    finally:
        for process in (worker, replacement):
            if process is not None:
                stop(process)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # the killed worker's unacknowledged messages
    # then: the run finished within the budget, with the result of a clean run, and its follow-up ran
    assert run.status == "done", f"{run.status} after {seconds:.0f} s\n{output[-3000:]}"
    assert run.pipeline_done_at is not None
    assert outcome(run, people) == reference
    print(f"healed in {seconds:.1f} s after the new worker started")
