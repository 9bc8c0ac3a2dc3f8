"""Gifts for points through the API (API.md): the catalog, 201 {id, points, balance}, the 409s, bad input named,
Idempotency-Key, scopes, role and branch."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.tests.helpers import assert_error, client_with
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points import services as points_services
from points.tests.helpers import assert_ledger_sound, balance
from service.factories import give_points, make_gift
from service.models import Gift, GiftOrder

pytestmark = pytest.mark.django_db

MSISDN = "13900000001"


@pytest.fixture
def member():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn=MSISDN)
    give_points(member, [(2025, 500), (2026, 1000)], on=dt.date.today())
    member.boss, member.manager = boss, manager
    return member


def order(client, key="k-1", **fields):
    body = {"msisdn": MSISDN, "gift": "film", "quantity": 1, "delivery": "pickup", **fields}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/gift-orders/", body, format="json", **headers)


def as_person(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_catalog_lists_the_gifts_on_offer(api, member):
    make_gift(points=300, stock=10, tiers=["gold", "diamond"])
    make_gift("old", active=False)
    response = api.get("/api/v1/gifts/")
    assert response.status_code == 200
    rows = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    assert [(g["gift"], g["points"], g["stock"], g["tiers"], g["deliveries"]) for g in rows] == [
        ("film", 300, 10, ["diamond", "gold"], ["pickup", "mail"])
    ]


def test_an_order_answers_201_id_points_balance_and_a_replay_the_same(api, member, django_user_model):
    make_gift(points=300, stock=10)
    response = order(api, quantity=2)
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["points"], data["balance"], data["status"]) == (600, 900, "placed")
    again = order(api, quantity=2)
    assert again.status_code == 201 and again.json() == data
    assert GiftOrder.objects.count() == 1 and Gift.objects.get(code="film").stock == 8 and balance(member) == 900
    # the order reads back with its history; the list masks the msisdn for a client without pii
    detail = api.get(f"/api/v1/gift-orders/{data['id']}/").json()
    assert detail["status"] == "placed" and detail["allowed_transitions"] == ["shipped", "cancelled"]
    listed = client_with(django_user_model, "reader", ["read"]).get("/api/v1/gift-orders/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["msisdn"] == "139****0001"


def test_the_409s(api, member):
    make_gift(points=300, stock=1)
    make_gift("phone", points=5000, stock=5)
    assert_error(order(api, key="a", quantity=2), 409, "out_of_stock")
    assert_error(order(api, key="b", gift="phone"), 409, "insufficient_points")
    points_services.points_freeze(customer=member, reason="suspended", at=dt.datetime.now(dt.UTC))
    assert_error(order(api, key="c"), 409, "frozen")
    assert GiftOrder.objects.count() == 0 and balance(member) == 1500
    assert_ledger_sound()


def test_bad_input_is_named_and_unknowns_are_404(api, member):
    make_gift(delivery="mail")
    error = assert_error(order(api, quantity=0, delivery="drone", msisdn="123"), 400, "invalid")
    assert set(error["fields"]) == {"quantity", "delivery", "msisdn"}
    error = assert_error(order(api, key="d"), 400, "invalid")  # pickup, a mail-only gift
    assert set(error["fields"]) == {"delivery"}
    assert_error(order(api, key="e", gift="nothing"), 404, "unknown_gift")
    assert_error(order(api, key="f", msisdn="13911111111"), 404, "unknown_customer")
    assert_error(
        api.post("/api/v1/gift-orders/999/transition/", {"to": "shipped"}, format="json"), 404, "unknown_gift_order"
    )


def test_transitions_through_the_api_and_the_409_names_the_allowed_moves(api, member):
    make_gift(points=300, stock=10)
    order_id = order(api).json()["id"]
    path = f"/api/v1/gift-orders/{order_id}/transition/"
    error = assert_error(api.post(path, {"to": "collected"}, format="json"), 409, "invalid_transition")
    assert error["fields"]["allowed"] == ["shipped", "cancelled"]
    assert_error(api.post(path, {"to": "lost"}, format="json"), 400, "invalid")
    response = api.post(path, {"to": "cancelled", "note": "changed her mind"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert balance(member) == 1500 and Gift.objects.get(code="film").stock == 10
    assert_error(api.post(path, {"to": "shipped"}, format="json"), 409, "invalid_transition")


def test_scopes_roles_and_branches(django_user_model, member):
    make_gift(points=300, stock=10)
    reader = client_with(django_user_model, "reader", ["read"])
    assert reader.get("/api/v1/gifts/").status_code == 200
    assert_error(order(reader), 403, "missing_scope")
    writer = client_with(django_user_model, "writer", ["points:write"])
    assert order(writer).status_code == 201
    # her manager orders for her; a manager of another branch does not see her
    assert order(as_person(member.manager.user), key="m-1").status_code == 201
    stranger = make_manager("AM9")
    assert_error(order(as_person(stranger.user), key="s-1"), 404, "unknown_customer")
    # a supervisor extends a voucher of her branch; the manager may not
    voucher = make_gift("voucher", voucher_valid_days=30)
    order_id = order(as_person(member.boss), key="v-1", gift=voucher.code).json()["id"]
    path = f"/api/v1/gift-orders/{order_id}/voucher/"
    until = (dt.date.today() + dt.timedelta(days=37)).isoformat()
    assert as_person(member.manager.user).post(path, {"until": until, "reason": "x"}, format="json").status_code == 403
    response = as_person(member.boss).post(path, {"until": until, "reason": "complaint #7"}, format="json")
    assert response.status_code == 200 and response.json()["voucher_valid_until"] == until
    assert_error(as_person(member.boss).post(path, {"until": until}, format="json"), 400, "invalid")
