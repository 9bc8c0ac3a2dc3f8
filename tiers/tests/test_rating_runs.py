"""Rating runs as operations: crash and resume, a killed worker process, a real Celery worker, the API."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from core import dates
from core.tests.helpers import assert_error
from tiers import engine, rules, selectors, services
from tiers.models import CustomerTier, RatingChunk, RatingRun, TierChange
from tiers.tests.helpers import population, state_of

M = dt.date(2026, 12, 1)
ROOT = Path(__file__).resolve().parents[2]


def expected_states(people, run):
    policy = rules.Policy.from_json(run.policy_snapshot)
    return {c.pk: rules.evaluate(policy, M, selectors.customer_facts(c, policy, M, rules.NONE)) for c in people}


def assert_same_as_uninterrupted(people, run, reference):
    for customer in people:
        assert state_of(customer) == reference[customer.pk], customer.pk
    assert TierChange.objects.filter(run=run).count() == len(reference)


@pytest.mark.django_db
def test_a_run_whose_chunk_raises_resumes_to_the_same_end_state(settings, monkeypatch):
    settings.VIPCLUB_RATING_CHUNK_SIZE = 3
    people = population()
    from tiers.tests.helpers import close_months

    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    # the reference: the same month run uninterrupted (rolled back afterwards)
    with transaction.atomic():
        clean, _ = services.tier_run_start(month=M, dispatch=False)
        services.tier_run_execute(run=clean)
        reference = {c.pk: state_of(c) for c in people}
        reference_changes = sorted(TierChange.objects.filter(run=clean).values_list("customer_id", "transition"))
        transaction.set_rollback(True)
    # given a run whose third chunk fails
    real = engine.evaluate_chunk
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(engine, "evaluate_chunk", flaky)
    run, _ = services.tier_run_start(month=M, dispatch=False)
    with pytest.raises(RuntimeError):
        services.tier_run_execute(run=run)
    run.refresh_from_db()
    # then the run is failed, names the error, and kept the chunks done before it
    assert run.status == "failed"
    assert "database went away" in run.error
    assert RatingChunk.objects.filter(run=run, done=True).count() == 2
    assert run.progress_done == 6
    # when resumed, only the missing chunks run, and the end state equals the uninterrupted run
    services.tier_run_resume(run=run, dispatch=False)
    services.tier_run_execute(run=run)
    run.refresh_from_db()
    assert run.status == "done" and run.error == ""
    assert calls["n"] == 3 + 2  # chunks 3 and 4 only
    assert {c.pk: state_of(c) for c in people} == reference
    assert sorted(TierChange.objects.filter(run=run).values_list("customer_id", "transition")) == reference_changes
    assert sum(run.counts.values()) == len(people)  # counts totalled from every chunk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_chunk_resumes_to_the_same_end_state():
    # given 12 customers in chunks of 3, the month closed, and a lock that will stop the worker inside chunk 3
    people = population()
    from tiers.tests.helpers import close_months

    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    blocker = people[7]  # chunk 3; its current row is an expired gold → the chunk must write it
    assert CustomerTier.objects.filter(customer=blocker).exists()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "VIPCLUB_RATING_CHUNK_SIZE": "3",
        "REDIS_URL": "",
    }
    with transaction.atomic():
        CustomerTier.objects.select_for_update().get(customer=blocker)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rerate", "--month", "2026-12"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # wait until two chunks are committed and the worker is stuck in the third
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if RatingChunk.objects.filter(done=True).count() >= 2:
                break
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.1)
        time.sleep(1.0)
        assert worker.poll() is None
        # when the worker process is killed
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    run = RatingRun.objects.get()
    assert run.status == "running"
    assert RatingChunk.objects.filter(run=run, done=True).count() == 2
    # then resuming finishes only what is missing, with the end state of an uninterrupted run
    reference = {pk: ev.new_state for pk, ev in expected_states(people, run).items()}
    services.tier_run_resume(run=run, dispatch=False)
    services.tier_run_execute(run=run)
    run.refresh_from_db()
    assert run.status == "done"
    assert {c.pk: state_of(c) for c in people} == reference
    assert (
        TierChange.objects.filter(run=run).values("customer").distinct().count()
        == TierChange.objects.filter(run=run).count()
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_celery_worker_runs_a_month_end_to_end(settings, vipclub_celery):
    from celery.contrib.testing.worker import start_worker

    from tiers.tests.helpers import close_months

    app = vipclub_celery

    settings.VIPCLUB_RATING_CHUNK_SIZE = 4
    people = population()
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=20):
        run, created = services.tier_run_start(month=M)  # dispatches the chunks to Redis on commit
        assert created
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in ("done", "failed") and run.pipeline_done_at:
                break
            time.sleep(0.2)
    assert run.status == "done", run.error
    assert run.progress_done == run.progress_total == len(people)
    assert run.pipeline_done_at is not None  # the monthly pipeline followed on the worker
    reference = {pk: ev.new_state for pk, ev in expected_states(people, run).items()}
    assert {c.pk: state_of(c) for c in people} == reference
    assert RatingChunk.objects.filter(run=run, done=True).count() == 3


@pytest.mark.django_db
def test_rating_runs_api(api, django_capture_on_commit_callbacks):
    from tiers.tests.helpers import close_months

    people = population(4)
    close_months(dates.add_months(M, -24), dates.add_months(M, -2))
    # the previous month is not closed: refused unless forced
    error = assert_error(api.post("/api/v1/rating-runs/", {"month": "2026-12"}, format="json"), 409, "month_not_closed")
    assert "2026-11" in error["message"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/rating-runs/", {"month": "2026-12", "force": True}, format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    body = api.get(f"/api/v1/rating-runs/{run_id}/").json()
    assert body["status"] == "done"
    assert body["progress"] == {"done": 4, "total": 4}
    assert set(body["counts"]) == {"upgraded", "downgraded", "renewed", "held", "joined", "left", "unchanged"}
    # asking again returns the existing run
    again = api.post("/api/v1/rating-runs/", {"month": "2026-12", "force": True}, format="json")
    assert again.status_code == 200 and again.json()["id"] == run_id
    changes = api.get(f"/api/v1/rating-runs/{run_id}/changes/").json()
    assert changes["count"] == TierChange.objects.filter(run_id=run_id).count()
    row = changes["results"][0]
    assert set(row) >= {"msisdn", "from_tier", "to_tier", "reason", "score"}
    assert "****" not in row["msisdn"]  # the client has the `pii` scope: in clear (API.md)
    # the customer shows the tier and its history with the explanation
    member = next(
        c for c in people if state_of(c).tier and TierChange.objects.filter(run_id=run_id, customer=c).exists()
    )
    profile = api.get(f"/api/v1/customers/{member.msisdn}/").json()
    assert profile["tier"]["code"] == state_of(member).tier
    history = api.get(f"/api/v1/customers/{member.msisdn}/tier-history/").json()
    assert history[0]["run"] == run_id
    explanation = history[0]["explanation"]
    assert explanation["score"]["bill_points"] + explanation["score"]["tenure_bonus"] == int(
        explanation["score"]["total"]
    )
    assert explanation["after"]["tier"] == state_of(member).tier
    assert set(explanation["floors"]) == {"plan", "key_person", "transfer"}
    listed = api.get(f"/api/v1/customers/?tier={state_of(member).tier}").json()["results"]
    assert member.msisdn[-4:] in [r["msisdn"][-4:] for r in listed]
    assert_error(api.get("/api/v1/customers/?tier=platinum"), 400, "invalid")


@pytest.mark.django_db
def test_rating_runs_api_bad_input(api):
    error = assert_error(
        api.post("/api/v1/rating-runs/", {"month": "2026-13", "dry_run": "perhaps"}, format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"month", "dry_run"}
    error = assert_error(
        api.post(
            "/api/v1/rating-runs/",
            {"month": "2026-12", "force": True, "draft": {"thresholds": {"diamond": "1"}}},
            format="json",
        ),
        400,
        "invalid",
    )
    assert "dry run" in error["message"]
    error = assert_error(
        api.post(
            "/api/v1/rating-runs/",
            {"month": "2026-12", "dry_run": True, "force": True, "draft": {"thresholds": {"ruby": "1"}}},
            format="json",
        ),
        400,
        "invalid",
    )
    assert "ruby" in error["message"]
    assert_error(
        api.post("/api/v1/rating-runs/", {"month": "2026-12", "policy": "nope", "force": True}, format="json"),
        404,
        "unknown_policy",
    )
    assert_error(api.get("/api/v1/rating-runs/999999/"), 404, "unknown_run")
    assert_error(api.get("/api/v1/rating-runs/999999/changes/"), 404, "unknown_run")
    assert_error(api.get("/api/v1/customers/13999999999/tier-history/"), 404, "unknown_customer")
    assert RatingRun.objects.count() == 0
