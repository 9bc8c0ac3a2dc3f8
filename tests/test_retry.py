"""The bounded retry on write conflicts (core.db.retry_on_conflict), on PostgreSQL and SQLite: a deadlock, a
serialization failure or a locked SQLite database runs the write again at the outermost transaction; when the
attempts are exhausted the API answers 503 with Retry-After in the error shape, never 500.

The conflicts are simulated (the database error a driver raises for them); tests/test_concurrency.py makes real ones
on PostgreSQL.
"""

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, OperationalError, transaction

from core import db
from core.models import IdempotencyRecord
from core.tests.helpers import assert_error
from customers.factories import CustomerFactory, RegionFactory
from customers.models import MonthlyBill, Region
from vipclub import workflows

# Outside any transaction (the retry works at the outermost one); every app "available": each test starts with what
# post_migrate writes (groups, permissions) and leaves the database empty, as a test with serialized_rollback
# expects after it.
TRANSACTIONAL = pytest.mark.django_db(transaction=True, available_apps=[a.name for a in django_apps.get_app_configs()])


class _PgError(Exception):
    """What psycopg 3 puts behind Django's OperationalError for a deadlock (40P01) or a serialization failure."""

    def __init__(self, pgcode: str):
        super().__init__(pgcode)
        self.sqlstate = pgcode


def conflict(pgcode: str = "40P01") -> OperationalError:
    exc = OperationalError("deadlock detected" if pgcode == "40P01" else "could not serialize access")
    exc.__cause__ = _PgError(pgcode)
    return exc


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(db, "BASE_DELAY", 0)


def flaky(failures: list[Exception], then):
    """A unit of work that raises the given errors one call after the other, then does `then()`."""
    calls = []

    def work():
        calls.append(1)
        if len(calls) <= len(failures):
            then()  # written, then rolled back with the failed attempt
            raise failures[len(calls) - 1]
        return then()

    return work, calls


@TRANSACTIONAL
@pytest.mark.parametrize(
    "error",
    [conflict("40P01"), conflict("40001"), OperationalError("database is locked")],
    ids=["deadlock", "serialization-failure", "sqlite-locked"],
)
def test_a_conflict_runs_the_write_again_in_a_new_transaction(error):
    # given a write that conflicts twice, having written a region each time before the error
    n = iter(range(100))
    work, calls = flaky([error, error], then=lambda: Region.objects.create(code=f"R{next(n)}", name="x", province="y"))
    # when it runs behind the retry
    region = db.retry_on_conflict(work)()
    # then the third attempt wrote it, and the failed attempts left nothing
    assert len(calls) == 3
    assert list(Region.objects.values_list("code", flat=True)) == [region.code] == ["R2"]


@TRANSACTIONAL
def test_exhausted_attempts_raise_a_write_conflict_and_write_nothing():
    work, calls = flaky([conflict()] * 3, then=lambda: Region.objects.create(code="R", name="x", province="y"))
    with pytest.raises(db.WriteConflict) as raised:
        db.retry_on_conflict(work)()
    assert len(calls) == db.ATTEMPTS == 3
    assert (raised.value.http_status, raised.value.code, raised.value.retry_after) == (503, "write_conflict", 1)
    assert not Region.objects.exists()


@TRANSACTIONAL
def test_inside_a_transaction_the_error_goes_up_to_the_outermost_boundary():
    # given a retrying unit of work called inside someone else's transaction
    work, calls = flaky([conflict(), conflict()], then=lambda: None)
    # when it conflicts, then it is not run again there (the transaction is aborted): the error goes up
    with pytest.raises(OperationalError), transaction.atomic():
        db.retry_on_conflict(work)()
    assert len(calls) == 1
    # and a boundary around that transaction runs the whole of it again when the nested work conflicts in it
    outer_calls = []

    def outer():
        outer_calls.append(1)
        return db.retry_on_conflict(work)()

    db.retry_on_conflict(outer)()
    assert (len(calls), len(outer_calls)) == (3, 2)


@TRANSACTIONAL
def test_other_database_errors_are_not_retried():
    work, calls = flaky([IntegrityError("duplicate key"), OperationalError("server closed the connection")], lambda: 1)
    with pytest.raises(IntegrityError):
        db.retry_on_conflict(work)()
    assert len(calls) == 1
    assert not db.is_conflict(OperationalError("server closed the connection"))
    assert not db.is_conflict(ValueError("deadlock detected"))


@TRANSACTIONAL
def test_a_bill_upload_that_keeps_conflicting_answers_503_with_retry_after(api, monkeypatch):
    # given a customer, and bill imports that always deadlock
    customer = CustomerFactory(region=RegionFactory())

    def deadlocked(**kwargs):
        raise conflict()

    monkeypatch.setattr(workflows, "bills_import", deadlocked)
    # when a bill is uploaded
    response = api.post(
        "/api/v1/bills/bulk/",
        [{"msisdn": customer.msisdn, "month": "2026-10", "amount": "10.00", "paid": True}],
        format="json",
        HTTP_IDEMPOTENCY_KEY="bills-1",
    )
    # then the answer is a 503 in the error shape, with Retry-After, and the key is not spent
    error = assert_error(response, 503, "write_conflict")
    assert "nothing was written" in error["message"]
    assert response["Retry-After"] == "1"
    assert not IdempotencyRecord.objects.exists()


@TRANSACTIONAL
def test_a_bill_upload_that_conflicted_once_is_applied_once_under_its_key(api, monkeypatch):
    # given a bill import whose first attempt writes the bill and then deadlocks
    customer = CustomerFactory(region=RegionFactory())
    real = workflows.bills_import
    work, calls = flaky([conflict()], then=lambda: None)

    def first_deadlocks(**kwargs):
        result = real(**kwargs)
        work()
        return result

    monkeypatch.setattr(workflows, "bills_import", first_deadlocks)
    body = [{"msisdn": customer.msisdn, "month": "2026-10", "amount": "10.00", "paid": True}]
    # when it is uploaded with an Idempotency-Key, then replayed
    first = api.post("/api/v1/bills/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="bills-2")
    replay = api.post("/api/v1/bills/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="bills-2")
    # then the retry applied it once: created, and the replay answers the same without writing
    assert first.status_code == replay.status_code == 200, first.content
    assert first.json() == replay.json() == {"created": 1, "updated": 0}
    assert replay["Idempotent-Replayed"] == "true"
    assert len(calls) == 2
    assert MonthlyBill.objects.filter(customer=customer).count() == 1
    assert IdempotencyRecord.objects.count() == 1


@TRANSACTIONAL
def test_an_event_that_keeps_conflicting_answers_503_and_is_not_recorded(api, monkeypatch):
    customer = CustomerFactory(region=RegionFactory())

    def deadlocked(**kwargs):
        raise conflict("40001")

    monkeypatch.setattr(workflows, "lifecycle_event", deadlocked)
    body = {
        "event_id": "e-1",
        "type": "suspended",
        "msisdn": customer.msisdn,
        "occurred_at": "2026-11-02T09:30:00+08:00",
        "data": {"kind": "arrears"},
    }
    response = api.post("/api/v1/events/", body, format="json")
    assert_error(response, 503, "write_conflict")
    assert response["Retry-After"] == "1"
    # the sender sends it again later: it applies
    monkeypatch.undo()
    assert api.post("/api/v1/events/", body, format="json").status_code == 201


def test_a_conflict_that_escapes_every_boundary_is_a_503_not_a_500():
    from core.api import exception_handler

    response = exception_handler(conflict(), {})
    assert response.status_code == 503
    assert response.data["error"]["code"] == "write_conflict"
    assert response["Retry-After"] == "1"
