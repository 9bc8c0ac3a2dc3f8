"""Lifecycle events (API.md `/events/`): every type, replays, refusals, bad data."""

import datetime as dt

import pytest

from customers.models import CustomerChange, Group, KeyPerson, StatusChange
from customers.tests.factories import CustomerFactory, make_id_number
from vipclub.models import InboundEvent

from .test_api_customers import assert_error

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
