"""Lifecycle events (API.md `/events/`): every type, replays, refusals, bad data."""

import datetime as dt

import pytest

from core.tests.helpers import assert_error
from customers.factories import CustomerFactory, make_id_number
from customers.models import CustomerChange, Group, KeyPerson, StatusChange
from vipclub.models import InboundEvent

pytestmark = pytest.mark.django_db

_counter = iter(range(1, 10_000))


def send(api, customer_msisdn: str, type_: str, data: dict | None = None, event_id: str | None = None):
    body = {
        "event_id": event_id or f"evt-{next(_counter)}",
        "type": type_,
        "msisdn": customer_msisdn,
        "occurred_at": "2026-11-02T09:30:00+08:00",
    }
    if data is not None:
        body["data"] = data
    return api.post("/api/v1/events/", body, format="json")


def status_of(customer):
    customer.refresh_from_db()
    return customer.status


def test_the_whole_lifecycle(api, customer):
    assert send(api, customer.msisdn, "suspended", {"kind": "arrears"}).status_code == 201
    assert (status_of(customer), customer.suspension_kind) == ("suspended", "arrears")
    assert send(api, customer.msisdn, "reactivated", {}).status_code == 201
    assert status_of(customer) == "active"
    assert (
        send(api, customer.msisdn, "closure_requested", {"channel": "hotline", "reason": "moving"}).status_code == 201
    )
    assert status_of(customer) == "pending_closure"
    assert send(api, customer.msisdn, "closure_cancelled").status_code == 201
    assert status_of(customer) == "active"
    send(api, customer.msisdn, "closure_requested", {})
    response = send(api, customer.msisdn, "closed", {"kind": "voluntary"})
    assert response.status_code == 201
    assert response.json()["status"] == "closed"
    assert (status_of(customer), customer.closure_kind) == ("closed", "voluntary")
    changes = StatusChange.objects.filter(customer=customer).order_by("id")
    assert [c.to_status for c in changes] == [
        "suspended",
        "active",
        "pending_closure",
        "active",
        "pending_closure",
        "closed",
    ]
    assert changes[0].occurred_at == dt.datetime(2026, 11, 2, 1, 30, tzinfo=dt.UTC)


def test_reactivating_a_closed_customer_is_refused_and_the_refusal_replays(api, customer):
    send(api, customer.msisdn, "closure_requested", {})
    send(api, customer.msisdn, "closed", {"kind": "arrears"})
    error = assert_error(send(api, customer.msisdn, "reactivated", {}, event_id="late-1"), 409, "invalid_transition")
    assert "closed" in error["message"]
    assert status_of(customer) == "closed"
    # the same event again gets the same answer
    assert_error(send(api, customer.msisdn, "reactivated", {}, event_id="late-1"), 409, "invalid_transition")


def test_replayed_event_id_returns_the_first_answer_and_changes_nothing(api, customer):
    first = send(api, customer.msisdn, "suspended", {"kind": "requested"}, event_id="billing-42")
    assert first.status_code == 201
    replay = send(api, customer.msisdn, "suspended", {"kind": "requested"}, event_id="billing-42")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert StatusChange.objects.filter(customer=customer).count() == 1
    assert InboundEvent.objects.filter(event_id="billing-42").count() == 1
    # a different event under a used id is refused
    assert_error(
        send(api, customer.msisdn, "suspended", {"kind": "forced"}, event_id="billing-42"), 409, "event_id_reused"
    )


def test_plan_change_ownership_number_and_key_person(api, customer):
    assert (
        send(api, customer.msisdn, "plan_changed", {"plan_code": "588", "started_on": "2026-11-01"}).status_code == 201
    )
    customer.refresh_from_db()
    assert (customer.plan_code, customer.plan_started_on) == ("588", dt.date(2026, 11, 1))

    new_id = make_id_number(77, dt.date(1970, 1, 2))
    assert (
        send(api, customer.msisdn, "ownership_transferred", {"name": "新户主", "id_number": new_id}).status_code == 201
    )
    customer.refresh_from_db()
    assert (customer.name, customer.id_number, customer.birthday) == ("新户主", new_id, dt.date(1970, 1, 2))
    assert CustomerChange.objects.filter(customer=customer, kind="ownership_transferred").exists()

    data = {"group_code": "G-001", "group_class": "A", "role": "top_decision_maker"}
    assert send(api, customer.msisdn, "key_person_set", data).status_code == 201
    assert KeyPerson.objects.get(customer=customer).role == "top_decision_maker"
    assert Group.objects.get(code="G-001").group_class == "A"

    response = send(api, customer.msisdn, "number_changed", {"new_msisdn": "13700000001"})
    assert response.status_code == 201
    assert response.json()["msisdn"] == "13700000001"
    customer.refresh_from_db()
    assert customer.msisdn == "13700000001"
    assert api.get("/api/v1/customers/13700000001/").status_code == 200


def test_number_change_to_a_taken_number_is_a_conflict(api, customer):
    other = CustomerFactory(region=customer.region)
    assert_error(send(api, customer.msisdn, "number_changed", {"new_msisdn": other.msisdn}), 409, "msisdn_exists")
    customer.refresh_from_db()
    assert customer.msisdn == "13800138000"


@pytest.mark.parametrize(
    ("type_", "data", "bad_field"),
    [
        ("suspended", {}, "kind"),
        ("suspended", {"kind": "sleepy"}, "kind"),
        ("closed", {"kind": "angry"}, "kind"),
        ("plan_changed", {"plan_code": "588", "started_on": "yesterday"}, "started_on"),
        ("ownership_transferred", {"name": "x", "id_number": "123"}, "id_number"),
        ("number_changed", {"new_msisdn": "137000000011"}, "new_msisdn"),
        ("key_person_set", {"group_code": "G", "group_class": "E", "role": "boss"}, "group_class"),
    ],
)
def test_bad_event_data_is_a_400_naming_the_field(api, customer, type_, data, bad_field):
    error = assert_error(send(api, customer.msisdn, type_, data), 400, "invalid")
    assert bad_field in error["fields"]["data"]
    assert InboundEvent.objects.count() == 0
    assert status_of(customer) == "active"


def test_bad_envelopes(api, customer):
    error = assert_error(
        api.post("/api/v1/events/", {"type": "exploded", "msisdn": "1380013800", "occurred_at": "soon"}, format="json"),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"event_id", "type", "msisdn", "occurred_at"}
    assert_error(api.post("/api/v1/events/", [1, 2], format="json"), 400, "invalid")
    assert_error(
        api.generic("POST", "/api/v1/events/", "{not json", content_type="application/json"), 400, "malformed_request"
    )
    assert_error(
        api.post(
            "/api/v1/events/",
            {
                "event_id": "x",
                "type": "suspended",
                "msisdn": customer.msisdn,
                "occurred_at": "2026-11-02T09:30:00+08:00",
                "data": "arrears",
            },
            format="json",
        ),
        400,
        "invalid",
    )


def test_unknown_customer_is_a_404_and_not_stored(api, region):
    assert_error(send(api, "13911112222", "suspended", {"kind": "forced"}, event_id="e-404"), 404, "unknown_customer")
    assert not InboundEvent.objects.filter(event_id="e-404").exists()


# -- order: events apply in occurred_at order per customer (issue 13) ------------------------------------------------


def send_at(api, msisdn: str, type_: str, at: str, data: dict | None = None, event_id: str | None = None):
    body = {
        "event_id": event_id or f"evt-{next(_counter)}",
        "type": type_,
        "msisdn": msisdn,
        "occurred_at": at,
        "data": data or {},
    }
    return api.post("/api/v1/events/", body, format="json")


def test_an_older_event_arriving_after_a_newer_one_is_recorded_and_changes_nothing(api, customer):
    # given a customer suspended by an event of 10:00
    assert (
        send_at(api, customer.msisdn, "suspended", "2026-11-02T10:00:00+08:00", {"kind": "arrears"}).status_code == 201
    )
    # when the reactivation of 09:00 arrives after it (late, out of order)
    late = send_at(api, customer.msisdn, "reactivated", "2026-11-02T09:00:00+08:00", event_id="late-reactivation")
    # then it is recorded (201), not applied, with the reason; she stays suspended, her points frozen
    assert late.status_code == 201, late.content
    body = late.json()
    assert (body["applied"], body["reason"], body["status"]) == (False, "superseded", "suspended")
    assert "older than the customer's latest lifecycle event" in body["message"]
    assert body["latest_lifecycle_at"].startswith("2026-11-02T02:00:00")
    assert (status_of(customer), customer.suspension_kind) == ("suspended", "arrears")
    assert [c.to_status for c in StatusChange.objects.filter(customer=customer)] == ["suspended"]
    assert customer.points_account.frozen
    stored = InboundEvent.objects.get(event_id="late-reactivation")
    assert (stored.outcome, stored.status_code) == ("superseded", 201)
    # and a replay answers the same, 200
    replay = send_at(api, customer.msisdn, "reactivated", "2026-11-02T09:00:00+08:00", event_id="late-reactivation")
    assert (replay.status_code, replay.json()) == (200, body)
    # while a newer one applies
    assert send_at(api, customer.msisdn, "reactivated", "2026-11-02T11:00:00+08:00").json()["applied"] is True
    assert status_of(customer) == "active"


def test_a_late_closure_request_opens_no_case_after_its_cancellation(api, customer):
    # given a closure request of 09:00 and its cancellation of 09:30, the cancellation arriving first
    cancelled = send_at(api, customer.msisdn, "closure_cancelled", "2026-11-02T09:30:00+08:00")
    requested = send_at(api, customer.msisdn, "closure_requested", "2026-11-02T09:00:00+08:00", {"channel": "hall"})
    # then the cancellation found her active (nothing to cancel) and the late request is superseded: she is active,
    # with no retention case
    assert (cancelled.status_code, cancelled.json()["applied"], cancelled.json()["status"]) == (201, True, "active")
    assert "nothing changed" in cancelled.json()["gap"]
    assert (requested.status_code, requested.json()["applied"]) == (201, False)
    assert status_of(customer) == "active"
    assert not customer.retention_cases.exists()


def test_a_newer_event_that_skips_a_step_is_applied_as_a_fact(api, customer):
    # given a customer pending closure with her retention case open
    send_at(api, customer.msisdn, "closure_requested", "2026-11-02T09:00:00+08:00", {"channel": "hotline"})
    # when billing's arrears suspension arrives, its cancellation of the request never having come
    response = send_at(api, customer.msisdn, "suspended", "2026-11-02T12:00:00+08:00", {"kind": "arrears"})
    # then it applies (a fact of the system of record, API.md), naming the gap; her case ends as retained
    assert response.status_code == 201, response.content
    assert response.json()["applied"] is True
    assert "from pending closure to suspended without the events in between" in response.json()["gap"]
    assert (status_of(customer), customer.suspension_kind) == ("suspended", "arrears")
    assert [c.to_status for c in StatusChange.objects.filter(customer=customer)] == ["pending_closure", "suspended"]
    assert list(customer.retention_cases.values_list("state", flat=True)) == ["retained"]
    assert customer.points_account.frozen
    # and a closure of an active customer closes her all the same (API.md)
    other = CustomerFactory(region=customer.region)
    closed = send_at(api, other.msisdn, "closed", "2026-11-02T12:00:00+08:00", {"kind": "voluntary"})
    assert (closed.status_code, closed.json()["status"]) == (201, "closed")
    assert (status_of(other), other.closure_kind) == ("closed", "voluntary")
    # but nothing moves a closed customer: 409
    refused = send_at(api, other.msisdn, "suspended", "2026-11-02T13:00:00+08:00", {"kind": "forced"})
    assert_error(refused, 409, "invalid_transition")
