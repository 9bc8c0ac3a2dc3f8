"""API hygiene (issue 18 item 7, API.md Conventions): the five API defects an integrator met, each pinned here."""

import datetime as dt

import pytest

from core.masking import mask_msisdn
from core.models import ActionLog
from core.tests.helpers import client_with
from customers.factories import CustomerFactory
from customers.models import Customer
from managers.factories import ManagedMemberFactory, ManagerFactory
from retention.models import ChurnRecord
from tiers.factories import TierChangeFactory
from tiers.models import RatingPolicy, RatingRun

pytestmark = pytest.mark.django_db


# --- 1. the schema is readable with a token (and a session) ----------------------------------------------------


def test_the_schema_is_readable_with_a_token(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.status_code
    assert "/api/v1/customers/bulk/" in response.json()["paths"]


def test_the_schema_is_readable_with_a_session_and_refused_anonymously(client, staff_user):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(staff_user)
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/api/docs/").status_code == 200


# --- 2. null, "" and missing all mean "none" for optional fields ----------------------------------------------


def _row(msisdn: str, region_code: str, **extra) -> dict:
    return {
        "msisdn": msisdn,
        "name": "张三",
        "id_number": "11010519491231002X",
        "join_date": "2020-01-01",
        "brand": "gotone",
        "region": region_code,
        **extra,
    }


def test_optional_customer_fields_may_be_null_blank_or_missing(api, region):
    none_values = {"birthday": None, "product_type": None, "plan_code": None, "plan_started_on": None, "landline": None}
    rows = [
        _row("13900000001", region.code, **none_values),
        _row("13900000002", region.code, **{k: "" for k in none_values}),
        _row("13900000003", region.code),
    ]
    response = api.post("/api/v1/customers/bulk/", rows, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 3, "updated": 0}
    saved = Customer.objects.filter(msisdn__in=[r["msisdn"] for r in rows])
    # the three rows are stored alike: no plan code, no landline, the default product type
    stored = {(c.plan_code, c.landline, c.product_type, c.birthday, c.plan_started_on) for c in saved}
    assert len(stored) == 1 and next(iter(stored))[:3] == ("", "", "primary")


def test_the_schema_documents_optional_request_fields_as_nullable(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    row = schema["components"]["schemas"]["CustomerRowRequest"]
    assert all(row["properties"][name].get("nullable") for name in ("plan_code", "landline", "product_type"))
    assert not row["properties"]["msisdn"].get("nullable")


def test_optional_fields_of_other_writes_may_be_null(api, customer):
    response = api.post(
        "/api/v1/contact-logs/",
        {"msisdn": customer.msisdn, "channel": "call", "outcome": "reached", "note": None, "occurred_at": None},
        format="json",
    )
    assert response.status_code == 201, response.content
    response = api.post(
        "/api/v1/events/",
        {
            "event_id": "hyg-null-data",
            "type": "closure_requested",
            "msisdn": customer.msisdn,
            "occurred_at": "2026-11-02T09:00:00+08:00",
            "data": {"channel": None, "reason": "", "reason_category": None},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    other = CustomerFactory(region=customer.region)
    response = api.post(
        "/api/v1/points/transfers/",
        {"from_msisdn": customer.msisdn, "to_msisdn": other.msisdn, "points": 1, "reference": None},
        format="json",
        HTTP_IDEMPOTENCY_KEY="hyg-null-points",
    )
    assert response.status_code != 400, response.content  # a rule may refuse it (409), its input is fine


# --- 3. facts from the system of record are recorded ----------------------------------------------------------


def _event(api, msisdn: str, type_: str, at: str, data: dict | None = None):
    body = {"event_id": f"hyg-{type_}-{msisdn}-{at}", "type": type_, "msisdn": msisdn, "occurred_at": at}
    return api.post("/api/v1/events/", {**body, "data": data or {}}, format="json")


@pytest.mark.parametrize("kind", ["voluntary", "arrears"])
@pytest.mark.parametrize("before", ["active", "suspended", "pending_closure"])
def test_a_closed_event_closes_a_member_from_any_open_state_and_logs_the_gap(api, kind, before):
    member = ManagedMemberFactory(manager=ManagerFactory(), tier="diamond", since=dt.date(2026, 1, 1))
    if before == "suspended":
        assert (
            _event(api, member.msisdn, "suspended", "2026-11-02T10:00:00+08:00", {"kind": "forced"}).status_code == 201
        )
    if before == "pending_closure":
        assert _event(api, member.msisdn, "closure_requested", "2026-11-02T10:00:00+08:00").status_code == 201
    response = _event(api, member.msisdn, "closed", "2026-11-02T12:00:00+08:00", {"kind": kind})
    assert response.status_code == 201, response.content
    assert (response.json()["applied"], response.json()["status"]) == (True, "closed")
    member.refresh_from_db()
    assert (member.status, member.closure_kind) == ("closed", kind)
    assert ChurnRecord.objects.filter(customer=member, kind=kind).exists()
    skipped = before == "active" or (before == "suspended" and kind == "voluntary")
    assert bool(response.json().get("gap")) == skipped
    # the gap is logged for staff in the action log (the audit trail), with the event it came from
    gaps = ActionLog.objects.filter(action="lifecycle_gap", object_id=str(member.pk))
    assert gaps.count() == (1 if skipped else 0)
    if skipped:
        assert gaps.get().details["gap"] == response.json()["gap"]


def test_a_closed_event_for_a_closed_customer_is_recorded_not_refused(api, customer):
    _event(api, customer.msisdn, "closed", "2026-11-02T12:00:00+08:00", {"kind": "arrears"})
    again = _event(api, customer.msisdn, "closed", "2026-11-02T13:00:00+08:00", {"kind": "arrears"})
    assert again.status_code == 201, again.content
    assert "nothing changed" in again.json()["gap"]
    # a move out of closed still refuses: a closed number does not come back
    assert _event(api, customer.msisdn, "reactivated", "2026-11-02T14:00:00+08:00").status_code == 409


# --- 4. with `pii`, lists and run changes show msisdns in clear -----------------------------------------------


@pytest.fixture
def run_with_a_change(customer):
    policy = RatingPolicy.objects.order_by("id").first()
    run = RatingRun.objects.create(
        policy=policy,
        policy_version=1,
        policy_snapshot={},
        month=dt.date(2026, 12, 1),
        evaluation_date=dt.date(2026, 12, 1),
        status="done",
    )
    TierChangeFactory(customer=customer, run=run)
    return run


@pytest.mark.parametrize(
    ("path", "scopes", "clear"),
    [
        ("/api/v1/customers/", ["read", "pii"], True),
        ("/api/v1/customers/", ["read"], False),
        ("/api/v1/rating-runs/{run}/changes/", ["read", "pii"], True),
        ("/api/v1/rating-runs/{run}/changes/", ["read"], False),
    ],
)
def test_lists_show_msisdns_in_clear_with_the_pii_scope(
    django_user_model, customer, run_with_a_change, path, scopes, clear
):
    client = client_with(django_user_model, "partner", scopes)
    rows = client.get(path.format(run=run_with_a_change.pk)).json()["results"]
    msisdns = [row["msisdn"] for row in rows]
    assert msisdns == [customer.msisdn if clear else mask_msisdn(customer.msisdn)]
    if path == "/api/v1/customers/":
        ids = [row["id_number"] for row in rows]
        assert (ids == [customer.id_number]) == clear


# --- 5. every operation has a summary and a tag ---------------------------------------------------------------


def test_every_operation_has_a_summary_and_a_tag(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    missing = []
    tags = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            if not operation.get("summary") or not operation.get("tags") or operation["tags"] == ["v1"]:
                missing.append(f"{method.upper()} {path}")
            tags.update(operation.get("tags", []))
    assert not missing, missing
    assert {
        "customers",
        "bills",
        "events",
        "tiers",
        "benefits",
        "points",
        "managers",
        "retention",
        "reports",
        "health",
    } <= tags
