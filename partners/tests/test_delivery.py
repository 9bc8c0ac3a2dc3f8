"""Webhook delivery to a real HTTP receiver on loopback (issue 18 "Done when"): one signed event per change, ids
unique, per-customer order; a receiver failing for a while gets every event, none twice after a 2xx; parking after
the retry window; replay; pause. `transactional_db`: the events are committed, as the delivery sees them in
production (on PostgreSQL the fan-out waits for the transactions that could still add earlier ids)."""

import datetime as dt
import time
from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from standardwebhooks import Webhook

from managers.models import Notification
from partners import delivery, factories, services
from partners.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # leaves the seeded rows to later tests

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


def fanned_out(expected: int, *, at=T0, timeout: float = 60) -> None:
    """Fan out until `expected` deliveries exist: on PostgreSQL the cursor waits for the transactions that were
    running at its horizon (on a shared server, other databases' too)."""
    deadline = time.monotonic() + timeout
    while Delivery.objects.count() < expected:
        assert time.monotonic() < deadline, "the fan-out did not settle"
        delivery.fan_out(at=at)
        time.sleep(0.05)


def by_customer(requests) -> dict[str, list[int]]:
    seq = defaultdict(list)
    for r in requests:
        seq[r["event"]["data"]["msisdn"]].append(int(r["event"]["id"].removeprefix("evt_")))
    return seq


def test_every_subscribed_event_arrives_once_signed_and_in_order_per_customer(receiver):
    # given an endpoint for tier.changed and 3 tier changes of each of 120 customers, interleaved, plus other types
    endpoint = factories.endpoint(url=receiver.url)
    events = []
    for n in range(3):
        for c in range(1, 121):
            events.append(factories.tier_event(c, n))
            if c % 10 == 0:
                factories.tier_event(c, n, type="points.changed")
    # when the delivery runs (batches of 50: several rounds, several events of a customer waiting their turn)
    fanned_out(len(events), at=timezone.now())
    stats = delivery.deliver(clock=timezone.now, limit_override=50)
    # then each tier change arrived once, signed with the endpoint's secret, in order per customer
    assert stats["delivered"] == len(events) == len(receiver.requests)
    signer = Webhook(endpoint.secret)
    ids = []
    for r in receiver.requests:
        payload = signer.verify(r["body"], r["headers"])
        assert payload["id"] == r["headers"]["webhook-id"] == r["event"]["id"]
        assert payload["type"] == "tier.changed" and payload["data"]["msisdn"]
        ids.append(payload["id"])
    assert sorted(ids) == sorted(e.event_id for e in events) and len(set(ids)) == len(ids)
    for seq in by_customer(receiver.requests).values():
        assert seq == sorted(seq) and len(seq) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert not Delivery.objects.filter(last_status_code__isnull=True).exists()
    assert not Delivery.objects.filter(last_duration_ms__isnull=True).exists()
    # and a second pass sends nothing
    assert delivery.deliver(clock=timezone.now)["sent"] == 0
    assert len(receiver.requests) == len(events)


def test_a_receiver_failing_for_a_while_gets_every_event_and_none_twice_after_a_2xx(receiver):
    # given a receiver answering 500 to its first 150 requests, then 200
    factories.endpoint(url=receiver.url)
    receiver.answer = lambda request: 500 if len(receiver.requests) < 150 else 200
    events = [factories.tier_event(c, n) for n in range(2) for c in range(1, 101)]
    # when the delivery runs every minute for a few hours
    fanned_out(len(events))
    clock = Clock(T0)
    for _ in range(6 * 60):
        delivery.deliver(clock=clock)
        clock.at += dt.timedelta(minutes=1)
        if Delivery.objects.exclude(status="delivered").count() == 0:
            break
    # then every event was acknowledged exactly once, nothing was sent again after its 2xx, order kept
    acked = [r["event"]["id"] for r in receiver.acknowledged()]
    assert sorted(acked) == sorted(e.event_id for e in events) and len(set(acked)) == len(acked)
    seen_ok = set()
    for r in receiver.requests:
        assert r["event"]["id"] not in seen_ok
        if r["status"] == 200:
            seen_ok.add(r["event"]["id"])
    for seq in by_customer(receiver.acknowledged()).values():
        assert seq == sorted(seq)
    assert Delivery.objects.filter(attempts__gt=1).exists()  # the failures were retried


def test_backoff_grows_with_jitter_and_stops_at_the_window(settings):
    settings.VIPCLUB_WEBHOOK_BACKOFF_BASE = 10
    settings.VIPCLUB_WEBHOOK_BACKOFF_CAP = 3600
    delays = [delivery.backoff(n) for n in range(1, 12)]
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 1800 <= delays[-1] <= 3600
    assert len({round(delivery.backoff(3), 6) for _ in range(20)}) > 1  # jitter


def test_failing_deliveries_are_parked_after_three_days_and_replayed_by_staff(receiver):
    # given a receiver that answers 503
    endpoint = factories.endpoint(url=receiver.url, at=T0)
    receiver.answer = lambda request: 503
    factories.tier_event(1, 0)
    factories.tier_event(2, 0)
    fanned_out(2)
    # when the delivery runs now, after a day, and after three days
    for days in (0, 1, 2, 3):
        delivery.deliver(clock=Clock(T0 + dt.timedelta(days=days)))
    # then both are parked after the window, with what the last attempt got
    parked = Delivery.objects.filter(status="parked")
    assert parked.count() == 2
    assert all(d.attempts == 4 and d.last_status_code == 503 and d.last_error == "HTTP 503" for d in parked)
    assert delivery.deliver(clock=Clock(T0 + dt.timedelta(days=4)))["sent"] == 0  # parked stays parked
    # when staff replay everything parked and the receiver is back
    receiver.answer = lambda request: 200
    assert services.endpoint_replay_parked(endpoint=endpoint, actor=None, at=T0 + dt.timedelta(days=5)) == 2
    delivery.deliver(clock=Clock(T0 + dt.timedelta(days=5)))
    assert Delivery.objects.filter(status="delivered").count() == 2
    # and one delivery can be replayed on its own
    services.delivery_replay(deliveries=Delivery.objects.all()[:1], actor=None, at=T0 + dt.timedelta(days=6))
    assert delivery.deliver(clock=Clock(T0 + dt.timedelta(days=6)))["delivered"] == 1
    assert len(receiver.acknowledged()) == 3


def test_an_endpoint_failing_again_and_again_is_paused_and_club_admins_are_told(receiver, settings):
    settings.VIPCLUB_WEBHOOK_PAUSE_AFTER = 5
    admin = get_user_model().objects.create_superuser("boss", password="x")
    endpoint = factories.endpoint(url=receiver.url)
    receiver.answer = lambda request: 500
    for c in range(1, 9):
        factories.tier_event(c, 0)
    fanned_out(8)
    delivery.deliver(clock=Clock(T0))
    endpoint.refresh_from_db()
    assert not endpoint.active and "8 failed attempts" in endpoint.paused_reason
    assert Notification.objects.filter(user=admin, kind="webhook_paused").count() == 1
    # a paused endpoint is not called, even when its retries are due
    sent = len(receiver.requests)
    delivery.deliver(clock=Clock(T0 + dt.timedelta(hours=1)))
    assert len(receiver.requests) == sent
    # resumed, it gets everything
    receiver.answer = lambda request: 200
    services.endpoint_update(endpoint=endpoint, active=True, actor=admin, at=T0)
    delivery.deliver(clock=Clock(T0 + dt.timedelta(hours=1)))
    assert Delivery.objects.filter(status="delivered").count() == 8
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_claims_take_only_the_head_of_each_customers_line():
    # given two events of customer 1 and one of customer 2
    endpoint = factories.endpoint(url="http://127.0.0.1:9/")
    factories.tier_event(1, 0)
    factories.tier_event(1, 1)
    factories.tier_event(2, 0)
    fanned_out(3)
    # when two workers claim
    first = delivery.claim(endpoint.pk, at=T0)
    second = delivery.claim(endpoint.pk, at=T0)
    # then customer 1's second event waits for the first to be answered
    assert [d.customer_key for d in first] == ["1", "2"]
    assert second == []


def test_a_new_endpoint_gets_events_from_now_on(receiver):
    factories.tier_event(1, 0)
    factories.endpoint(url=receiver.url)
    factories.tier_event(2, 0)
    fanned_out(1, at=timezone.now())
    delivery.deliver(clock=timezone.now)
    assert [r["event"]["data"]["msisdn"] for r in receiver.requests] == ["13900000002"]


@pytest.mark.postgres
def test_the_fan_out_waits_for_a_transaction_that_took_an_earlier_id(receiver):
    """On PostgreSQL an id is taken at insert and seen at commit: an event committed after a later one is not
    skipped (the cursor waits until every transaction that was running at its horizon has ended)."""
    import psycopg
    from django.db import connection

    factories.endpoint(url=receiver.url)
    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")})
    try:
        # given a transaction that inserted an event and has not committed yet
        with other.cursor() as cur:
            cur.execute(
                "INSERT INTO core_outboxevent (type, customer_id, msisdn, occurred_at, data, created_at) "
                "VALUES ('tier.changed', 1, '13900000001', now(), '{}', now())"
            )
        # and a later event, committed
        factories.tier_event(2, 0)
        # when the delivery runs, the later event is fanned out only once the earlier transaction has ended
        delivery.deliver(clock=timezone.now)
        assert receiver.requests == []
        assert Delivery.objects.count() == 0
        other.commit()
        fanned_out(2, at=timezone.now())
        delivery.deliver(clock=timezone.now)
        assert sorted(r["event"]["data"]["msisdn"] for r in receiver.requests) == ["13900000001", "13900000002"]
    finally:
        other.close()


@pytest.mark.postgres
def test_concurrent_claims_never_take_the_same_delivery():
    """Two workers claiming side by side (SKIP LOCKED, leases re-checked when a row is locked) share the backlog."""
    import threading

    from django.db import connection

    endpoint = factories.endpoint(url="http://127.0.0.1:9/")
    for c in range(1, 2001):
        factories.tier_event(c, 0)
    fanned_out(2000)
    claimed: list[list[int]] = [[], []]

    def worker(i):
        try:
            while batch := delivery.claim(endpoint.pk, at=T0, limit=25):
                claimed[i].extend(d.pk for d in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 2000
