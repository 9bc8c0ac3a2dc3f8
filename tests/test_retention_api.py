"""The retention API (API.md): closure requests through /retention-cases/ (opened, joined, replayed), transitions
with history (409 naming the allowed moves), scope (another manager's case is a 404), the churn and tier reports;
bad input is a 400 naming the field, never a 500."""

import datetime as dt

import pytest

from core.tests.helpers import as_user, assert_error
from managers.models import Obligation
from managers.tests.helpers import make_manager, make_supervisor
from retention.models import CaseStep, RetentionCase
from retention.tests.helpers import member
from vipclub.models import InboundEvent

from .retention_fixtures import a_year_of_churn

pytestmark = pytest.mark.django_db
CASES = "/api/v1/retention-cases/"


@pytest.fixture
def manager():
    return make_manager("E200")


@pytest.fixture
def gold(manager):
    return member(manager=manager, tier="gold", msisdn="13800001111")


def open_case(api, msisdn, **body):
    return api.post(CASES, {"msisdn": msisdn, **body}, format="json")


def move(api, case_id, **body):
    return api.post(f"{CASES}{case_id}/transition/", body, format="json")


def test_a_closure_request_opens_a_case_and_a_second_one_joins_it(api, gold):
    # when
    first = open_case(
        api,
        gold.msisdn,
        channel="hall",
        reason="moving away",
        reason_category="relocation",
        occurred_at="2026-11-02T09:30:00+08:00",
    )
    second = open_case(api, gold.msisdn, channel="hotline")
    # then
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["msisdn"], body["state"], body["manager"], body["reason_category"]) == (
        gold.msisdn,
        "open",
        "E200",
        "relocation",
    )
    assert body["allowed_transitions"] == ["contacted"]
    assert [h["action"] for h in body["history"]] == ["opened"]
    assert second.status_code == 200
    assert second.json()["id"] == body["id"] and second.json()["requests"] == 2
    assert [h["action"] for h in second.json()["history"]] == ["opened", "request_joined"]
    gold.refresh_from_db()
    assert gold.status == "pending_closure"
    assert Obligation.objects.get(customer=gold).due_on == dt.date(2026, 11, 3)


def test_a_replayed_request_returns_the_first_answer_and_changes_nothing(api, gold):
    headers = {"HTTP_IDEMPOTENCY_KEY": "hall-42"}
    first = api.post(CASES, {"msisdn": gold.msisdn, "channel": "hall"}, format="json", **headers)
    replay = api.post(CASES, {"msisdn": gold.msisdn, "channel": "hall"}, format="json", **headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert RetentionCase.objects.get().requests == 1 and CaseStep.objects.count() == 1


def test_a_replayed_closure_requested_event_changes_nothing_and_another_event_joins(api, gold):
    event = {
        "event_id": "boss-1",
        "type": "closure_requested",
        "msisdn": gold.msisdn,
        "occurred_at": "2026-11-02T09:30:00+08:00",
        "data": {"channel": "hotline", "reason": "tariff"},
    }
    first = api.post("/api/v1/events/", event, format="json")
    replay = api.post("/api/v1/events/", event, format="json")
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    case = RetentionCase.objects.get()
    assert first.json()["retention_case"] == case.pk and case.reason_category == "tariff"
    assert (case.requests, CaseStep.objects.count()) == (1, 1)
    # a new request (another event) while pending closure joins the case instead of a 409
    again = api.post("/api/v1/events/", {**event, "event_id": "boss-2"}, format="json")
    assert again.status_code == 201 and again.json()["retention_case"] == case.pk
    case.refresh_from_db()
    assert case.requests == 2 and RetentionCase.objects.count() == 1
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"msisdn": "123"}, "msisdn"),
        ({}, "msisdn"),
        ({"msisdn": "13800001111", "reason_category": "angry"}, "reason_category"),
        ({"msisdn": "13800001111", "occurred_at": "yesterday"}, "occurred_at"),
        ({"msisdn": "13800001111", "channel": "x" * 21}, "channel"),
    ],
)
def test_bad_closure_requests_are_a_400_naming_the_field(api, gold, body, field):
    error = assert_error(api.post(CASES, body, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert not RetentionCase.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api):
    assert api.post(CASES, [1, 2], format="json").status_code == 400
    assert api.post(CASES, "x", content_type="application/json").status_code == 400


def test_unknown_and_closed_customers(api, gold):
    assert_error(open_case(api, "13999999999"), 404, "unknown_customer")
    gold.status, gold.closure_kind = "closed", "voluntary"
    gold.save()
    assert_error(open_case(api, gold.msisdn), 409, "invalid_transition")


def test_transitions_return_the_case_with_its_history(api, gold):
    case_id = open_case(api, gold.msisdn).json()["id"]
    assert (
        move(api, case_id, to="contacted", channel="call", note="回访", reason_category="competitor_offer").status_code
        == 200
    )
    body = move(api, case_id, to="offer_made", offer="data_bonus").json()
    assert (body["state"], body["offer"], body["reason_category"]) == ("offer_made", "data_bonus", "competitor_offer")
    assert body["allowed_transitions"] == ["retained", "considering", "declined"]
    assert [(h["from_state"], h["to_state"]) for h in body["history"]] == [
        ("", "open"),
        ("open", "contacted"),
        ("contacted", "offer_made"),
    ]
    assert body["history"][1]["note"] == "回访" and body["history"][2]["offer"] == "data_bonus"
    retained = move(api, case_id, to="retained").json()
    assert retained["state"] == "retained" and retained["closed_at"]
    gold.refresh_from_db()
    assert gold.status == "active"


def test_an_illegal_transition_is_a_409_naming_the_allowed_ones(api, gold):
    case_id = open_case(api, gold.msisdn).json()["id"]
    error = assert_error(move(api, case_id, to="retained"), 409, "invalid_transition")
    assert error["fields"]["allowed"] == ["contacted"]
    assert "contacted" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "happy"}, "to"),
        ({}, "to"),
        ({"to": "contacted", "channel": "pigeon"}, "channel"),
        ({"to": "contacted", "visit_on": "soon"}, "visit_on"),
        ({"to": "contacted", "note": "x" * 2001}, "note"),
        ({"to": "contacted", "offer": "no such offer!"}, "offer"),
    ],
)
def test_bad_transitions_are_a_400_naming_the_field(api, gold, body, field):
    case_id = open_case(api, gold.msisdn).json()["id"]
    error = assert_error(move(api, case_id, **body), 400, "invalid")
    assert field in error["fields"]


def test_an_offer_or_a_visit_date_missing_is_a_400_naming_it(api, gold):
    case_id = open_case(api, gold.msisdn).json()["id"]
    move(api, case_id, to="contacted")
    assert "offer" in assert_error(move(api, case_id, to="offer_made"), 400, "invalid")["fields"]
    assert "offer" in assert_error(move(api, case_id, to="offer_made", offer="nothing"), 400, "invalid")["fields"]
    move(api, case_id, to="offer_made", offer="plan_discount")
    move(api, case_id, to="declined")
    assert "visit_on" in assert_error(move(api, case_id, to="escalated"), 400, "invalid")["fields"]
    assert move(api, case_id, to="escalated", visit_on="2099-01-05").json()["visit_on"] == "2099-01-05"


def test_a_manager_sees_only_her_customers_cases(api, gold, manager):
    other = make_manager("E201", region=manager.region)
    theirs = member(manager=other, tier="silver")
    mine_id = open_case(api, gold.msisdn).json()["id"]
    theirs_id = open_case(api, theirs.msisdn).json()["id"]
    me = as_user(manager.user)
    listed = me.get(CASES).json()
    assert [c["id"] for c in listed["results"]] == [mine_id]
    # another manager's case is a 404, for a transition too; so is a closure request for her customer
    assert_error(move(me, theirs_id, to="contacted"), 404, "unknown_case")
    assert_error(move(me, 999_999, to="contacted"), 404, "unknown_case")
    assert_error(open_case(me, theirs.msisdn), 404, "unknown_customer")
    assert move(me, mine_id, to="contacted").status_code == 200
    # her supervisor sees both
    boss = make_supervisor("boss")
    manager.supervisor = other.supervisor = boss
    manager.save()
    other.save()
    assert {c["id"] for c in as_user(boss).get(CASES).json()["results"]} == {mine_id, theirs_id}


def test_the_list_filters_and_refuses_bad_filters(api, gold, manager):
    other = member(manager=manager, tier="silver")
    first = open_case(api, gold.msisdn).json()["id"]
    second = open_case(api, other.msisdn).json()["id"]
    move(api, second, to="contacted")
    assert [c["id"] for c in api.get(CASES, {"state": "contacted"}).json()["results"]] == [second]
    assert {c["id"] for c in api.get(CASES, {"open": "true", "manager": "E200"}).json()["results"]} == {first, second}
    assert api.get(CASES, {"open": "false"}).json()["count"] == 0
    assert [c["id"] for c in api.get(CASES, {"msisdn": gold.msisdn}).json()["results"]] == [first]
    assert "state" in assert_error(api.get(CASES, {"state": "nope"}), 400, "invalid")["fields"]
    assert "opened_after" in assert_error(api.get(CASES, {"opened_after": "x"}), 400, "invalid")["fields"]


def test_the_list_reads_in_a_fixed_number_of_queries(api, manager, django_assert_max_num_queries):
    for _ in range(8):
        open_case(api, member(manager=manager).msisdn)
    with django_assert_max_num_queries(8):
        assert api.get(CASES).json()["count"] == 8


# --- reports ---------------------------------------------------------------------------------------------


def test_the_churn_report_per_month_and_tier(api):
    a_year_of_churn()
    body = api.get("/api/v1/reports/churn/", {"year": 2026}).json()
    assert (body["year"], body["region"], body["ytd_base"]) == (2026, None, "2025-12")
    rows = {(r["month"], r["tier"]): r for r in body["results"]}
    assert len(body["results"]) == 12 * 4
    jan = rows[("2026-01", "all")]
    assert (jan["members"], jan["churned"], jan["rate"], jan["target"]) == (9, 2, "20.00", "3.50")
    assert rows[("2026-01", "gold")]["breach"] is True
    assert rows[("2026-01", "diamond")]["rate"] == "0.00"
    assert body["snapshot_retention"]["base_date"] == "2026-01-01"


def test_a_region_without_members_has_null_rates(api):
    a_year_of_churn()
    body = api.get("/api/v1/reports/churn/", {"year": "2026", "region": "SZ"}).json()
    assert body["region"] == "SZ"
    assert all(r["rate"] is None and r["ytd_rate"] is None and r["breach"] is False for r in body["results"])


@pytest.mark.parametrize("year", ["abc", "1999", "20266", "2026.5", "-1"])
def test_a_bad_year_is_a_400_naming_it(api, year):
    assert "year" in assert_error(api.get("/api/v1/reports/churn/", {"year": year}), 400, "invalid")["fields"]


def test_an_unknown_region_is_a_400_and_a_foreign_one_a_404_for_a_supervisor(api):
    a_year_of_churn()
    assert "region" in assert_error(api.get("/api/v1/reports/churn/", {"region": "XX"}), 400, "invalid")["fields"]
    boss = make_supervisor("gz-boss")
    make_manager("E300", region=a_region("GZ"), supervisor=boss)
    client = as_user(boss)
    assert client.get("/api/v1/reports/churn/", {"year": 2026}).json()["regions"] == ["GZ"]
    assert_error(client.get("/api/v1/reports/churn/", {"region": "SZ"}), 404, "unknown_region")
    assert_error(client.get("/api/v1/reports/tiers/", {"region": "SZ"}), 404, "unknown_region")


def a_region(code):
    from customers.models import Region

    return Region.objects.get(code=code)


def test_a_manager_cannot_read_the_reports(manager):
    assert_error(as_user(manager.user).get("/api/v1/reports/churn/"), 403, "permission_denied")
    assert_error(as_user(manager.user).get("/api/v1/reports/tiers/"), 403, "permission_denied")


def test_the_tier_report_per_tier_and_region(api):
    a_year_of_churn()
    body = api.get("/api/v1/reports/tiers/").json()
    cells = {(r["region"], r["tier"]): r["members"] for r in body["results"]}
    assert cells[("GZ", "silver")] == 4 and cells[("GZ", "gold")] == 3 and cells[("GZ", "diamond")] == 1
    assert cells[("SZ", "gold")] == 0
    assert body["totals"] == {"diamond": 1, "gold": 3, "silver": 4, "all": 8}
    end_of_december = api.get("/api/v1/reports/tiers/", {"month": "2025-12"}).json()
    assert end_of_december["totals"]["all"] == 10 and end_of_december["month"] == "2025-12"
    assert "month" in assert_error(api.get("/api/v1/reports/tiers/", {"month": "2025-13"}), 400, "invalid")["fields"]
    assert_error(api.get("/api/v1/reports/tiers/", {"month": "2020-01"}), 404, "no_snapshot")
