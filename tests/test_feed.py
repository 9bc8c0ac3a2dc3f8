"""`GET /feed/` (API.md): every outbound event in commit order, with a cursor, for `pii` clients."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from core.tests.helpers import assert_error, client_with

AT = timezone.make_aware(dt.datetime(2026, 12, 1, 9))


def emit(n: int, type: str = "tier.changed") -> OutboxEvent:
    return outbox.emit(type=type, msisdn=f"1380013{n:04d}", occurred_at=AT, data={"n": n}, customer_id=n)


def read_all(client, **query) -> tuple[list[dict], str]:
    events, after = [], query.pop("after", "")
    while True:
        page = client.get("/api/v1/feed/", {"after": after, **query}).json()
        events += page["results"]
        if page["next"] == after:
            return events, after
        after = page["next"]


@pytest.mark.django_db
def test_the_feed_pages_through_every_event_in_order_with_a_cursor(api):
    # given five events of two types
    made = [emit(1), emit(2, "points.changed"), emit(3), emit(4, "points.changed"), emit(5)]
    # when a pii client pages through two at a time
    first = api.get("/api/v1/feed/", {"limit": 2}).json()
    assert [e["id"] for e in first["results"]] == [made[0].event_id, made[1].event_id]
    events, cursor = read_all(api, limit=2)
    # then it gets every event once, in order, in the API.md shape, msisdn in clear
    assert [e["id"] for e in events] == [e.event_id for e in made]
    assert events[0].pop("occurred_at") == "2026-12-01T09:00:00+08:00"  # the club's zone, whatever the user's
    assert events[0] == {"id": made[0].event_id, "type": "tier.changed", "data": {"msisdn": "13800130001", "n": 1}}
    # and an empty page keeps the cursor; a new event comes next
    assert api.get("/api/v1/feed/", {"after": cursor}).json() == {"results": [], "next": cursor}
    sixth = emit(6)
    assert [e["id"] for e in api.get("/api/v1/feed/", {"after": cursor}).json()["results"]] == [sixth.event_id]
    # and a type filter (repeatable) returns only those types, the cursor moving past the others
    only, _ = read_all(api, type="points.changed", limit=1)
    assert [e["data"]["n"] for e in only] == [2, 4]
    both = api.get("/api/v1/feed/?type=points.changed&type=tier.changed&limit=1000").json()["results"]
    assert len(both) == 6
    # and an event id works as a cursor too
    assert api.get("/api/v1/feed/", {"after": made[3].event_id}).json()["results"][0]["id"] == made[4].event_id


@pytest.mark.django_db
def test_the_feed_needs_the_pii_scope_and_checks_its_query(django_user_model, api):
    reader = client_with(django_user_model, "reader", ["read"])
    assert_error(reader.get("/api/v1/feed/"), 403, "missing_scope")
    assert client_with(django_user_model, "partner", ["pii"]).get("/api/v1/feed/").status_code == 200
    error = assert_error(api.get("/api/v1/feed/?after=x&type=nope&limit=1001"), 400, "invalid")
    assert set(error["fields"]) == {"after", "type", "limit"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_event_committed_after_a_later_one_is_not_skipped(api):
    # given a transaction that took an event id and has not committed yet
    took_id, commit = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                emit(1)
                took_id.set()
                commit.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert took_id.wait(10)
    # and a later event committed
    later = emit(2)
    # when the feed is read, the later event is not served yet (an earlier one may still commit)
    page = api.get("/api/v1/feed/").json()
    assert page["results"] == []
    # then once the slow transaction commits, both come, the earlier first
    commit.set()
    writer.join()
    events, _ = read_all(api, after=page["next"])
    assert [e["data"]["n"] for e in events] == [1, 2]
    assert events[1]["id"] == later.event_id


@pytest.mark.django_db
def test_events_older_than_the_kept_days_are_pruned(settings):
    from core.tasks import prune_outbox_task

    # given events recorded 40, 31 and 29 days ago (VIPCLUB_OUTBOX_KEEP_DAYS = 30)
    now = timezone.now()
    old, older, kept = emit(1), emit(2), emit(3)
    for event, days in ((old, 40), (older, 31), (kept, 29)):
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=now - dt.timedelta(days=days))
    # when the daily task runs
    assert prune_outbox_task() == 2
    # then only the recent one is left
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [kept.pk]
