"""The delivery log is pruned after the kept days (settled rows only), and events go out with their time in the club's
zone (+08:00), as API.md shows them."""

import datetime as dt

import pytest
from django.utils import timezone

from core.outbox import emit
from partners import delivery, factories
from partners.models import Delivery
from partners.tasks import prune_deliveries_task

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def delivery_row(endpoint, event_id: int, *, status: str, days_ago: float) -> Delivery:
    at = NOW - dt.timedelta(days=days_ago)
    return Delivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        type="tier.changed",
        customer_key=str(event_id),
        status=status,
        retry_from=at,
        next_attempt_at=at,
        last_attempt_at=at if status != "pending" else None,
        delivered_at=at if status == "delivered" else None,
    )


def test_settled_deliveries_older_than_the_kept_days_are_pruned_daily(settings):
    settings.VIPCLUB_WEBHOOK_LOG_KEEP_DAYS = 30
    # given a log with deliveries of 40, 31 and 29 days ago, delivered or parked, and open ones just as old
    endpoint = factories.endpoint(url="http://127.0.0.1:9/hooks")
    old = delivery_row(endpoint, 1, status="delivered", days_ago=40)
    parked = delivery_row(endpoint, 2, status="parked", days_ago=31)
    waiting = delivery_row(endpoint, 3, status="pending", days_ago=35)  # a paused endpoint's backlog
    failing = delivery_row(endpoint, 4, status="failed", days_ago=33)
    recent = delivery_row(endpoint, 5, status="delivered", days_ago=29)
    # and a parked one of 40 days ago that staff replayed and that was delivered yesterday
    replayed = delivery_row(endpoint, 6, status="delivered", days_ago=40)
    Delivery.objects.filter(pk=replayed.pk).update(delivered_at=NOW - dt.timedelta(days=1))
    # when the daily task runs
    assert prune_deliveries_task() == 2
    # then the settled rows older than 30 days are gone; open rows, recent ones and the replayed one stay
    kept = set(Delivery.objects.values_list("pk", flat=True))
    assert kept == {waiting.pk, failing.pk, recent.pk, replayed.pk}
    assert old.pk not in kept and parked.pk not in kept
    # and a second run finds nothing more
    assert prune_deliveries_task() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_webhook_carries_the_time_of_the_event_in_the_clubs_zone(receiver):
    # given an endpoint and an event that happened at 02:30 UTC (10:30 in Beijing)
    factories.endpoint(url=receiver.url)
    emit(
        type="tier.changed",
        customer_id=7,
        msisdn="13900000007",
        occurred_at=dt.datetime(2026, 12, 4, 2, 30, tzinfo=dt.UTC),
        data={"to_tier": "gold"},
    )
    # when it is delivered (the fan-out reads the feed's horizon)
    delivery.fan_out(at=timezone.now())
    delivery.deliver(clock=timezone.now)
    # then its occurred_at is in the club's zone, with the offset
    assert [r["event"]["occurred_at"] for r in receiver.requests] == ["2026-12-04T10:30:00+08:00"]
