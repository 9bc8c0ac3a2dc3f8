"""A real Celery worker consuming from Redis delivers the webhooks (the beat entry's task) to a receiver on loopback."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from standardwebhooks import Webhook

from partners import factories
from partners.tasks import deliver_task
from partners.tests.receiver import Receiver
from vipclub.celery import app


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
