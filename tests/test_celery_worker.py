"""A real Celery worker consuming from Redis runs a scheduled job (the beat heartbeat)."""

import pytest
from celery.contrib.testing.worker import start_worker

from core.models import JobHeartbeat
from core.tasks import heartbeat
from vipclub.celery import app


def test_beat_schedule_is_declared_in_code():
    entry = app.conf.beat_schedule["heartbeat"]
    assert entry["task"] == "core.heartbeat"
    assert app.conf.timezone == "Asia/Shanghai"


@pytest.mark.redis
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_the_heartbeat_through_redis():
    assert app.conf.broker_url.startswith("redis://")
    # given a worker consuming from the Redis broker
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # when the job is sent through the broker, as beat does
        result = heartbeat.apply_async(kwargs={"name": "test-beat"}, ignore_result=False)
        stamp = result.get(timeout=20)
    # then the worker ran it against the database
    assert JobHeartbeat.objects.get(name="test-beat").last_run_at.isoformat() == stamp
