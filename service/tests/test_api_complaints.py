"""Complaints through the API (API.md): intake, list, detail, transitions, hand-over; bad input named, role and
branch checked."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.tests.helpers import assert_error, client_with
from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.models import PointsEntry
from points.tests.helpers import assert_ledger_sound, balance
from service.factories import club_time, receive
from service.models import Complaint

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2026, 11, 13)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def branch():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001")
    return boss, manager, member


def body(**fields):
    return {
        "msisdn": "13900000001",
        "channel": "hotline",
        "category": "billing",
        "text": "本月话费多扣了50元",
        "received_at": "2026-11-13T17:00:00+08:00",
        **fields,
    }


def test_intake_answers_the_deadlines_and_the_owner(api, branch):
    # given a gold member and the hotline system's token
    _boss, manager, _member = branch
    # when the hotline posts her complaint
    response = api.post("/api/v1/complaints/", body(), format="json", HTTP_IDEMPOTENCY_KEY="hot-1")
    # then it is received, owned by her account manager (a system received it), with the deadlines
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "received" and data["owner"] == manager.user.username
    assert data["ack_due_at"] == "2026-11-13T19:00:00+08:00"
    assert data["reply_due_at"] == "2026-11-15T17:00:00+08:00"
    assert data["resolve_due_on"] == "2026-11-20"
    assert data["allowed_transitions"] == ["acknowledged", "escalated"]
    # when the same request is replayed, then the first answer comes back and nothing new is recorded
    again = api.post("/api/v1/complaints/", body(), format="json", HTTP_IDEMPOTENCY_KEY="hot-1")
    assert again.json()["id"] == data["id"] and Complaint.objects.count() == 1


def test_intake_names_every_bad_field(api, branch):
    response = api.post(
        "/api/v1/complaints/",
        body(channel="fax", category="weather", text="", received_at="yesterday"),
        format="json",
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"channel", "category", "text", "received_at"}
    error = assert_error(api.post("/api/v1/complaints/", body(received_by="ghost"), format="json"), 400, "invalid")
    assert set(error["fields"]) == {"owner"}
    assert_error(api.post("/api/v1/complaints/", body(msisdn="13911111111"), format="json"), 404, "unknown_customer")
    assert Complaint.objects.count() == 0


def test_transition_409_names_the_allowed_moves_and_compensation_posts_once(branch):
    # given a complaint replied to, and its manager's session
    _boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 9), by=manager.user)
    client = client_for(manager.user)
    url = f"/api/v1/complaints/{complaint.pk}/transition/"
    # when she asks to resolve it straight away, then 409 names the allowed moves
    error = assert_error(client.post(url, {"to": "resolved"}, format="json"), 409, "invalid_transition")
    assert error["fields"]["allowed"] == ["acknowledged", "escalated"]
    for to in ("acknowledged", "replied"):
        assert (
            client.post(url, {"to": to, "occurred_at": "2026-11-13T10:00:00+08:00"}, format="json").status_code == 200
        )
    # when she resolves it with 200 points, twice under one key
    move = {"to": "resolved", "note": "已退费", "compensation": {"points": 200}, "billing_refund": "100.00"}
    first = client.post(url, move, format="json", HTTP_IDEMPOTENCY_KEY="res-1")
    again = client.post(url, move, format="json", HTTP_IDEMPOTENCY_KEY="res-1")
    # then it is resolved with the compensation posted once
    assert first.status_code == 200 and again.json() == first.json()
    assert first.json()["status"] == "resolved" and first.json()["compensation"] == {"points": 200}
    assert first.json()["billing_refund"] == "100.00"
    assert balance(member) == 200
    assert PointsEntry.objects.filter(reference=f"complaint:{complaint.pk}").count() == 1
    assert_ledger_sound()
    # and bad input is named
    error = assert_error(client.post(url, {"to": "lost", "compensation": {"points": 0}}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"to", "compensation"}


def test_another_branch_neither_sees_nor_moves_a_complaint_and_a_manager_gets_no_report(branch):
    # given a complaint of a Guangzhou member and a supervisor and a manager of another branch
    _boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 9), by=manager.user)
    other_boss = make_supervisor("boss-sz")
    other_manager = make_manager("AM9", supervisor=other_boss, region=RegionFactory(code="SZ", name="深圳"))
    for user in (other_boss, other_manager.user):
        client = client_for(user)
        # then her complaint is unknown to them (never revealing it exists), in lists too
        assert_error(client.get(f"/api/v1/complaints/{complaint.pk}/"), 404, "unknown_complaint")
        assert_error(
            client.post(f"/api/v1/complaints/{complaint.pk}/transition/", {"to": "acknowledged"}, format="json"),
            404,
            "unknown_complaint",
        )
        assert client.get("/api/v1/complaints/").json()["count"] == 0
        assert_error(client.post("/api/v1/complaints/", body(), format="json"), 404, "unknown_customer")
    # and an account manager is refused the report (a supervisor's), an API client without the scope the intake
    assert_error(client_for(other_manager.user).get("/api/v1/reports/complaints/"), 403, "permission_denied")
    reader = client_with(type(manager.user), "reader", ["read"])
    assert_error(reader.post("/api/v1/complaints/", body(), format="json"), 403, "missing_scope")
    # while her own supervisor sees and moves it
    own = client_for(_boss)
    assert own.get(f"/api/v1/complaints/{complaint.pk}/").status_code == 200
    assert (
        own.post(f"/api/v1/complaints/{complaint.pk}/transition/", {"to": "escalated"}, format="json").status_code
        == 200
    )


def test_list_filters_and_handover(api, branch, django_user_model):
    _boss, manager, member = branch
    first = receive(member, at=club_time(FRIDAY, 9), by=manager.user, category="network")
    receive(member, at=club_time(FRIDAY, 10), by=manager.user, category="points")
    listed = api.get("/api/v1/complaints/", {"category": "network"}).json()
    assert [c["id"] for c in listed["results"]] == [first.pk]
    assert listed["results"][0]["msisdn"] == "13900000001"  # the `pii` scope: in clear
    reader = client_with(django_user_model, "reader", ["read"]).get("/api/v1/complaints/").json()
    assert {c["msisdn"] for c in reader["results"]} == {"139****0001"}  # without it: masked
    assert_error(api.get("/api/v1/complaints/", {"status": "lost"}), 400, "invalid")
    colleague = django_user_model.objects.create_user(username="colleague")
    moved = api.post(
        f"/api/v1/complaints/{first.pk}/handover/", {"owner": "colleague", "note": "请跟进"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["owner"] == colleague.username
    assert moved.json()["history"][-1]["action"] == "handover"
    error = assert_error(
        api.post(f"/api/v1/complaints/{first.pk}/handover/", {"owner": "colleague"}, format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"note"}


def test_the_list_costs_the_same_queries_for_few_and_many_complaints(branch, django_assert_max_num_queries):
    # given a supervisor and 2, then 12 complaints of her branch
    boss, manager, member = branch
    client = client_for(boss)
    for hour in range(2):
        receive(member, at=club_time(FRIDAY, 8 + hour), by=manager.user)
    client.get("/api/v1/complaints/")  # warm the role and content-type caches
    with django_assert_max_num_queries(12) as few:
        assert client.get("/api/v1/complaints/").json()["count"] == 2
    for hour in range(10):
        receive(member, at=club_time(FRIDAY, 10) + dt.timedelta(minutes=hour), by=manager.user)
    # then the page of 12 costs no more queries than the page of 2
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/complaints/").json()["count"] == 12


def test_transition_with_a_benefit_use_as_compensation(branch):
    # given a replied complaint of a gold member (6 airport-lounge visits a year)
    _boss, manager, member = branch
    complaint = receive(member, at=club_time(FRIDAY, 9), by=manager.user)
    client = client_for(manager.user)
    url = f"/api/v1/complaints/{complaint.pk}/transition/"
    for to in ("acknowledged", "replied"):
        client.post(url, {"to": to, "occurred_at": "2026-11-13T10:00:00+08:00"}, format="json")
    # when it is resolved with one lounge visit
    move = {"to": "resolved", "compensation": {"benefit": "lounge_airport", "quantity": 1}}
    response = client.post(url, move, format="json")
    # then 200 with the compensation, and the visit is on her benefits
    assert response.status_code == 200, response.content
    assert response.json()["compensation"] == {"benefit": "lounge_airport", "quantity": 1}
    benefits = client_for(manager.user).get(f"/api/v1/customers/{member.msisdn}/benefits/")
    lounge = next(b for b in benefits.json() if b["benefit"] == "lounge_airport")
    assert lounge["remaining"] == 7
    # and a money benefit is refused with a 400 naming the compensation
    other = receive(member, at=club_time(FRIDAY, 11), by=manager.user)
    bad_url = f"/api/v1/complaints/{other.pk}/transition/"
    client.post(bad_url, {"to": "escalated"}, format="json")
    bad = {"to": "resolved", "compensation": {"benefit": "nope", "quantity": 1}}
    error = assert_error(client.post(bad_url, bad, format="json"), 400, "invalid")
    assert "compensation" in error["fields"]
