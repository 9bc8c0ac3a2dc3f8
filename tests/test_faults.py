"""Faults (issue 8, point 6): with Redis down — broker, result backend and cache — the API still serves reads,
throttling steps aside, and health reports the broker unavailable at once instead of hanging.

Redis is pointed at a port nothing listens on (refused at once) and at an unroutable address (no answer: only the
socket timeouts bound the wait). The worker killed with SIGKILL during a rating run is tiers/tests/test_rating_runs.py.
"""

import socket
import time

import pytest
from django.conf import settings as django_settings

from customers.factories import BillFactory

pytestmark = pytest.mark.django_db

# Well under what a load balancer waits for a health answer; without timeouts a silent Redis host holds a
# request for the operating system's TCP connect timeout (about two minutes).
QUICK = 3.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


@pytest.fixture(params=["refused", "unroutable"])
def redis_down(request, settings):
    """REDIS_URL, the cache, the broker and the result backend all on a Redis that is not there, with the
    project's socket timeouts; throttling on with the project's rates, so every request touches the cache."""
    host = f"127.0.0.1:{closed_port()}" if request.param == "refused" else "10.255.255.1:6379"
    url = f"redis://{host}/0"
    timeout = django_settings.REDIS_TIMEOUT
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }
    }
    settings.VIPCLUB_THROTTLE_RATES = {"token": "6000/min", "user": "1200/min", "anon": "120/min"}
    return request.param


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_health_reports_the_broker_unavailable_quickly(redis_down, client):
    # when: a load balancer asks for health
    response, seconds = timed(lambda: client.get("/api/v1/health/"))
    # then: the service is up (the database answers), degraded: the broker is reported unavailable, within the bound
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("degraded", "ok", "unavailable")
    assert seconds < QUICK, f"health took {seconds:.1f} s with Redis {redis_down}"


def test_reads_are_served_without_redis(redis_down, api, customer):
    # given: a customer with a bill
    BillFactory(customer=customer)
    reads = [
        f"/api/v1/customers/{customer.msisdn}/",
        "/api/v1/customers/",
        f"/api/v1/customers/{customer.msisdn}/points/",
        f"/api/v1/customers/{customer.msisdn}/tier-history/",
        f"/api/v1/customers/{customer.msisdn}/benefits/",
        "/api/v1/obligations/",
    ]
    for url in reads:
        # when: an API client reads (throttling cannot reach its counts)
        response, seconds = timed(lambda url=url: api.get(url))
        # then: served, promptly
        assert response.status_code == 200, (url, response.content)
        assert seconds < QUICK, f"{url} took {seconds:.1f} s with Redis {redis_down}"
    assert api.get(f"/api/v1/customers/{customer.msisdn}/").json()["msisdn"] == customer.msisdn


@pytest.mark.redis
def test_health_says_ok_when_redis_is_there(settings, client):
    # the other side of the test above: with a Redis that answers, the broker is "ok"
    response = client.get("/api/v1/health/")
    assert response.json()["broker"] == "ok"
