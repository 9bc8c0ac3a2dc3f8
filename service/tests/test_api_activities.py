"""The activities API (API.md): list, sign up (201 confirmed / waitlisted with position, 409 not_invited /
signup_closed, Idempotency-Key), cancel; 4xx for bad input, never a 500."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member
from service.activities.factories import make_activity
from service.activities.models import Signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    gz = RegionFactory(code="GZ", name="广州")
    e1 = make_manager("E1", region=gz)
    golds = [make_member(manager=e1, tier="gold", msisdn=f"1380000000{i}", name=f"金{i}") for i in range(3)]
    (diamond,) = [make_member(manager=e1, tier="diamond", msisdn="13800000009", name="钻")]
    now = timezone.now()
    open_one = make_activity(
        capacity=1, quotas={"gold": None}, opens=now - dt.timedelta(hours=1), closes=now + dt.timedelta(days=3)
    )
    closed = make_activity(
        title="新年艺术演出",
        quotas={"gold": None},
        opens=now - dt.timedelta(days=5),
        closes=now + dt.timedelta(days=1),
    )
    type(closed).objects.filter(pk=closed.pk).update(signup_closes_at=now - dt.timedelta(hours=1))
    return {"e1": e1, "golds": golds, "diamond": diamond, "open": open_one, "closed": closed}


def signup(api, activity_id, msisdn, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/v1/activities/{activity_id}/signups/", {"msisdn": msisdn}, format="json", **headers)


def test_the_list_shows_the_window_seats_and_quotas(api, world):
    body = api.get("/api/v1/activities/").json()
    first = next(a for a in body["results"] if a["id"] == world["open"].pk)
    assert first["capacity"] == 1 and first["confirmed"] == 0 and first["waitlisted"] == 0
    assert first["invited_tiers"] == [{"tier": "gold", "seats": None, "confirmed": 0}]
    assert first["cost_per_head"] == "120.00" and first["region"] is None
    only_open = api.get("/api/v1/activities/?open=true").json()["results"]
    assert [a["id"] for a in only_open] == [world["open"].pk]


def test_sign_up_confirmed_then_waitlisted_with_position_and_a_replay_changes_nothing(api, world):
    a, b, c = world["golds"]
    first = signup(api, world["open"].pk, a.msisdn, key="k-a")
    assert (first.status_code, first.json()) == (201, {"status": "confirmed"})
    second = signup(api, world["open"].pk, b.msisdn, key="k-b")
    assert (second.status_code, second.json()) == (201, {"status": "waitlisted", "position": 1})
    assert signup(api, world["open"].pk, c.msisdn).json() == {"status": "waitlisted", "position": 2}
    # a replay of the same key answers the first answer and writes nothing
    replay = signup(api, world["open"].pk, b.msisdn, key="k-b")
    assert (replay.status_code, replay.json()) == (201, {"status": "waitlisted", "position": 1})
    # signing up again without a key answers her sign-up (200)
    again = signup(api, world["open"].pk, a.msisdn)
    assert (again.status_code, again.json()) == (200, {"status": "confirmed"})
    assert Signup.objects.count() == 3
    # when the confirmed member cancels, the first waiting one gets the seat
    gone = api.delete(f"/api/v1/activities/{world['open'].pk}/signups/{a.msisdn}/", HTTP_IDEMPOTENCY_KEY="d-a")
    assert (gone.status_code, gone.json()) == (200, {"status": "cancelled", "promoted": 1})
    assert Signup.objects.get(customer=b).status == "confirmed"
    assert signup(api, world["open"].pk, c.msisdn).json() == {"status": "waitlisted", "position": 1}


def test_409_signup_closed_and_not_invited(api, world):
    closed = signup(api, world["closed"].pk, world["golds"][0].msisdn)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "signup_closed"
    not_invited = signup(api, world["open"].pk, world["diamond"].msisdn)
    assert not_invited.status_code == 409 and not_invited.json()["error"]["code"] == "not_invited"
    assert not Signup.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [({}, 400, "msisdn"), ({"msisdn": "12"}, 400, "msisdn"), ({"msisdn": "13900000000"}, 404, None)],
)
def test_bad_sign_up_requests_are_4xx_naming_the_problem(api, world, body, status, field):
    response = api.post(f"/api/v1/activities/{world['open'].pk}/signups/", body, format="json")
    assert response.status_code == status
    if field:
        assert field in response.json()["error"]["fields"]


def test_unknown_activity_and_cancelling_nothing_are_404(api, world):
    assert signup(api, 999_999, world["golds"][0].msisdn).json()["error"]["code"] == "unknown_activity"
    response = api.delete(f"/api/v1/activities/{world['open'].pk}/signups/{world['golds'][0].msisdn}/")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_signed_up")
    draft = make_activity(publish=False)
    assert api.get("/api/v1/activities/").json()["count"] == 2
    assert signup(api, draft.pk, world["golds"][0].msisdn).status_code == 404
