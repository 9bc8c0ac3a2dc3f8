"""Survey answers and the satisfaction report through the API (API.md): 201, 409 `not_surveyed`, 400 naming the bad
fields, 403 for the wrong role or scope, a replay with the same Idempotency-Key."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.tests.helpers import assert_error, client_with
from managers.tests.helpers import make_manager, make_member, make_supervisor
from service.factories import club_time, receive, walk
from service.models import SatisfactionTarget, SurveyResponse

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 16)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def surveyed():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001")
    make_member(tier="gold", manager=manager, msisdn="13900000002")  # never surveyed
    walk(receive(member, at=club_time(DAY), by=manager.user), "resolved", at=club_time(DAY), actor=manager.user)
    return boss, manager, member


def body(**fields):
    return {
        "msisdn": "13900000001",
        "survey": "complaint",
        "score": 5,
        "comment": "处理很及时",
        "answered_at": "2026-11-17T09:30:00+08:00",
        **fields,
    }


def test_the_sms_platform_posts_an_answer_once(api, surveyed):
    # given a member surveyed after her resolved complaint
    # when the SMS platform posts her answer
    response = api.post("/api/v1/survey-responses/", body(), format="json", HTTP_IDEMPOTENCY_KEY="sms-1")
    # then it is recorded against that survey
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["score"], data["survey"], data["trigger"]) == (5, "complaint", "complaint")
    assert data["answered_at"] == "2026-11-17T09:30:00+08:00"
    # when the same request is replayed, then the first answer comes back and nothing is added
    again = api.post("/api/v1/survey-responses/", body(), format="json", HTTP_IDEMPOTENCY_KEY="sms-1")
    assert again.status_code == 201 and again.json() == data
    assert SurveyResponse.objects.count() == 1
    # when a second answer comes under another key, then it is refused: the survey was answered
    assert_error(
        api.post("/api/v1/survey-responses/", body(), format="json", HTTP_IDEMPOTENCY_KEY="sms-2"),
        409,
        "already_answered",
    )


def test_a_member_not_surveyed_is_a_409(api, surveyed):
    # when an answer comes for a member no survey was sent to, then 409 not_surveyed
    error = assert_error(
        api.post("/api/v1/survey-responses/", body(msisdn="13900000002"), format="json"), 409, "not_surveyed"
    )
    assert "msisdn" in error["fields"]
    # and for a survey of another kind than the one she got, too
    assert_error(api.post("/api/v1/survey-responses/", body(survey="quarterly"), format="json"), 409, "not_surveyed")


def test_bad_input_names_every_bad_field(api, surveyed):
    # when the score is out of range and the time missing, then 400 naming both
    error = assert_error(
        api.post("/api/v1/survey-responses/", body(score=6, answered_at=None), format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"score", "answered_at"}
    # and an unknown survey is named
    error = assert_error(api.post("/api/v1/survey-responses/", body(survey="nope"), format="json"), 400, "invalid")
    assert set(error["fields"]) == {"survey"}


def test_roles_and_scopes(django_user_model, surveyed):
    boss, manager, _member = surveyed
    # given a client with the read scope only: it may not answer
    reader = client_with(django_user_model, "reader", ["read"])
    assert_error(reader.post("/api/v1/survey-responses/", body(), format="json"), 403, "missing_scope")
    # and a manager of another branch does not know the member
    from customers.factories import RegionFactory

    stranger = make_manager("AM9", region=RegionFactory(code="SZ", name="深圳"))
    assert_error(
        client_for(stranger.user).post("/api/v1/survey-responses/", body(), format="json"), 404, "unknown_customer"
    )
    # an account manager may not read the report (a supervisor's)
    assert_error(client_for(manager.user).get("/api/v1/reports/satisfaction/"), 403, "permission_denied")
    # while her own manager enters the answer, and the supervisor reads the report
    entered = client_for(manager.user).post("/api/v1/survey-responses/", body(score=3), format="json")
    assert entered.status_code == 201, entered.content
    assert SurveyResponse.objects.get().channel == "manager"
    SatisfactionTarget.objects.create(year=2026, mean_score="4.50", satisfied_share="90")
    report = client_for(boss).get("/api/v1/reports/satisfaction/", {"year": 2026})
    assert report.status_code == 200, report.content
    data = report.json()
    assert data["target"] == {"mean": "4.50", "satisfied_share": "90.00"}
    assert data["totals"]["answers"] == 1 and data["totals"]["mean"] == "3.00"
    assert data["totals"]["satisfied_share"] == "0.0"
    assert data["quarters"][3]["answers"] == 1 and data["quarters"][3]["sent"] == 1
    assert data["results"] == [{"quarter": 4, "region": "GZ", "answers": 1, "mean": "3.00", "satisfied_share": "0.0"}]
    assert data["tiers"][0]["tier"] == "gold" and data["managers"][0]["manager"] == "AM1"
    assert_error(client_for(boss).get("/api/v1/reports/satisfaction/", {"year": "x"}), 400, "invalid")
