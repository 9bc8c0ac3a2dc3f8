"""A real Celery worker consuming from Redis delivers the webhooks (the beat entry's task) to a receiver on loopback;
killed with SIGKILL in the middle of a batch and restarted, it loses nothing and resends only what was not acknowledged."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from standardwebhooks import Webhook

from partners import factories
from partners.models import Delivery
from partners.tasks import deliver_task
from partners.tests.receiver import Receiver
from vipclub.celery import app

ROOT = Path(__file__).resolve().parent.parent


def test_the_delivery_is_on_beats_schedule():
    entry = app.conf.beat_schedule["webhooks-deliver"]
    assert entry["task"] == "partners.deliver" and entry["options"]["expires"] == entry["schedule"]


def test_the_delivery_log_is_pruned_daily_by_beat():
    entry = app.conf.beat_schedule["webhooks-log-prune"]
    assert entry["task"] == "partners.prune_deliveries"
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {40}


@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_delivers_the_outbox_through_redis(settings):
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = True
    receiver = Receiver()
    settings.VIPCLUB_WEBHOOK_TASK_BUDGET = 5
    cache.delete_many([f"partners:deliver:slot:{i}" for i in range(settings.VIPCLUB_WEBHOOK_PARALLEL)])
    endpoint = factories.endpoint(url=receiver.url)
    events = [factories.tier_event(c, 0) for c in range(1, 51)]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 60
        while len(receiver.acknowledged()) < len(events) and time.monotonic() < deadline:
            deliver_task.apply_async()
            time.sleep(1)
    signer = Webhook(endpoint.secret)
    ids = [signer.verify(r["body"], r["headers"])["id"] for r in receiver.requests]
    assert sorted(set(ids)) == sorted(e.event_id for e in events)
    assert len(ids) == len(events)
    receiver.close()


# A real delivery worker killed with SIGKILL in the middle of a batch, then restarted ---------------------------------


def start_delivery_worker(log) -> subprocess.Popen:
    """`celery worker` in a process group of its own, on the test database and Redis, allowed to call loopback over
    http, with short leases and task budgets so that a crash heals within the test's time."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "VIPCLUB_WEBHOOK_ALLOW_HTTP": "true",
        "VIPCLUB_WEBHOOK_ALLOW_PRIVATE": "true",
        "VIPCLUB_WEBHOOK_BATCH": "20",
        "VIPCLUB_WEBHOOK_THREADS": "4",
        "VIPCLUB_WEBHOOK_LEASE": "3",
        "VIPCLUB_WEBHOOK_TIMEOUT": "5",
        "VIPCLUB_WEBHOOK_TASK_BUDGET": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "vipclub", "worker", "--pool=prefork", "--concurrency=2"]
        + ["--loglevel=warning", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def delivered() -> set[str]:
    return {f"evt_{i}" for i in Delivery.objects.filter(status="delivered").values_list("event_id", flat=True)}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_delivery_worker_killed_mid_batch_loses_nothing_and_resends_only_what_was_not_acknowledged(settings):
    # given a slow receiver (0.3 s an answer), an endpoint for tier.changed and 3 events of each of 60 customers
    receiver = Receiver(delay=0.3)
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = True
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    endpoint = factories.endpoint(url=receiver.url)
    events = [factories.tier_event(c, n) for n in range(3) for c in range(1, 61)]
    log = tempfile.TemporaryFile()
    worker = replacement = None
    try:
        # and a real worker delivering them, through Redis, as beat asks it every few seconds
        worker = start_delivery_worker(log)
        deadline = time.monotonic() + 60
        while True:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "no batch was acknowledged"
            deliver_task.apply_async(expires=5)
            time.sleep(0.2)
            # a batch recorded, and the next one on the wire: events received that are not recorded as delivered
            received = {r["event"]["id"] for r in receiver.requests}
            if len(delivered()) >= 20 and received - delivered():
                break
        # when the worker (its whole process group) is killed with SIGKILL in the middle of that batch
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        time.sleep(1)  # what the worker had written to its sockets still reaches the receiver
        acknowledged_at_kill = delivered()
        received_at_kill = {r["event"]["id"] for r in receiver.requests}
        in_flight = received_at_kill - acknowledged_at_kill  # sent, maybe answered, never recorded
        assert in_flight and len(acknowledged_at_kill) < len(events)
        # and a new worker starts (beat keeps sending the task; the killed worker's slots and leases run out)
        replacement = start_delivery_worker(log)
        deadline = time.monotonic() + 120
        while len(delivered()) < len(events) and time.monotonic() < deadline:
            assert replacement.poll() is None, "the new worker exited"
            deliver_task.apply_async(expires=5)
            time.sleep(1)
    finally:
        for process in (worker, replacement):
            if process is not None:
                stop(process)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        receiver.close()
        redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # the killed worker's slots and messages
    # then every event arrived, signed, and every delivery is recorded as delivered
    assert len(delivered()) == len(events), output[-3000:]
    signer = Webhook(endpoint.secret)
    arrivals = [signer.verify(r["body"], r["headers"])["id"] for r in receiver.requests]
    assert set(arrivals) == {e.event_id for e in events}
    # and the only events received twice are the ones in flight at the kill: each once more, never one whose 2xx was
    # recorded before the kill
    counts = Counter(arrivals)
    twice = {event_id for event_id, n in counts.items() if n > 1}
    assert twice == in_flight and set(counts[e] for e in twice) == {2}
    assert not twice & acknowledged_at_kill
    # and each customer's events arrived in order (a repeat follows its first arrival at once)
    per_customer = defaultdict(list)
    for r in receiver.requests:
        per_customer[r["event"]["data"]["msisdn"]].append(int(r["event"]["id"].removeprefix("evt_")))
    for seq in per_customer.values():
        firsts = [e for i, e in enumerate(seq) if i == 0 or seq[i - 1] != e]
        assert firsts == sorted(set(seq))
    print(
        f"{len(in_flight)} in flight at the kill, resent once each; {len(arrivals)} requests for {len(events)} events"
    )
