"""Points through the REST API (API.md): a customer's points, redemptions and transfers with Idempotency-Key,
earning and corrections via /bills/bulk/, freeze/unfreeze/clear and moved_in via /events/, the profile."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.models import IdempotencyRecord
from core.tests.helpers import assert_error
from customers.factories import CustomerFactory, RegionFactory
from points import selectors
from points.models import PointsEntry, PointsLot, RewardRule
from tiers.models import CustomerTier, TransferFloor

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
_counter = iter(range(1, 100_000))


@pytest.fixture(autouse=True)
def ledger_invariant(request):
    """After every test: for each customer, balance = Σ entries = Σ lot remaining, no lot negative."""
    request.getfixturevalue("_django_db_helper")
    yield
    problems = selectors.ledger_invariant_violations()
    assert problems == [], f"ledger invariant broken: {problems}"


@pytest.fixture(autouse=True)
def today():
    """The business date of these tests: 20 November 2026 (never the machine's date)."""
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture(autouse=True)
def no_rewards(db):
    RewardRule.objects.update(active=False)


def post_bills(api, rows):
    response = api.post("/api/v1/bills/bulk/", rows, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def points_of(api, msisdn) -> dict:
    response = api.get(f"/api/v1/customers/{msisdn}/points/")
    assert response.status_code == 200, response.content
    return response.json()


def send(api, msisdn, type_, data=None, event_id=None, at="2026-11-20T09:30:00+08:00"):
    body = {"event_id": event_id or f"pts-{next(_counter)}", "type": type_, "msisdn": msisdn, "occurred_at": at}
    if data is not None:
        body["data"] = data
    return api.post("/api/v1/events/", body, format="json")


def redeem(api, msisdn, points, key="k-1", reference="ORDER-1"):
    return api.post(
        "/api/v1/points/redemptions/",
        {"msisdn": msisdn, "points": points, "reference": reference},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def transfer(api, source, target, points, key="t-1"):
    return api.post(
        "/api/v1/points/transfers/",
        {"from_msisdn": source, "to_msisdn": target, "points": points},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.fixture
def member(api, customer):
    """A customer with points of 2024 (100), 2025 (200) and 2026 (300, in two bills)."""
    post_bills(
        api,
        [
            {"msisdn": customer.msisdn, "month": "2024-12", "amount": "100.80", "paid": True},
            {"msisdn": customer.msisdn, "month": "2025-07", "amount": "200.00", "paid": True},
            {"msisdn": customer.msisdn, "month": "2026-03", "amount": "120.50", "paid": True},
            {"msisdn": customer.msisdn, "month": "2026-10", "amount": "180.99", "paid": False},
        ],
    )
    return customer


def test_a_customers_points(api, member):
    assert points_of(api, member.msisdn) == {
        "balance": 600,
        "frozen": False,
        "lots": [
            {"year": 2024, "remaining": 100, "expires_on": "2026-12-31"},
            {"year": 2025, "remaining": 200, "expires_on": "2027-12-31"},
            {"year": 2026, "remaining": 300, "expires_on": "2028-12-31"},
        ],
        "year_consumption": 300,
        "total_consumption": 600,
        "month_consumption": [{"month": "2026-03", "points": 120}, {"month": "2026-10", "points": 180}],
        "expiring_this_year": {"points": 100, "expires_on": "2026-12-31"},
    }
    assert_error(api.get("/api/v1/customers/13999999999/points/"), 404, "unknown_customer")


def test_corrections_up_and_down_via_bills_bulk(api, member):
    # when the October bill is corrected up by 19.01 yuan: only the difference is earned
    post_bills(api, [{"msisdn": member.msisdn, "month": "2026-10", "amount": "200.00", "paid": True}])
    assert points_of(api, member.msisdn)["balance"] == 620
    # when it is corrected down to 50: 150 come back out, oldest lot first (all of 2024, 50 of 2025)
    post_bills(api, [{"msisdn": member.msisdn, "month": "2026-10", "amount": "50", "paid": True}])
    body = points_of(api, member.msisdn)
    assert body["balance"] == 470
    assert [(lot["year"], lot["remaining"]) for lot in body["lots"]] == [(2025, 150), (2026, 320)]
    assert body["month_consumption"][-1] == {"month": "2026-10", "points": 50}
    # and the same corrected bill sent again earns nothing
    post_bills(api, [{"msisdn": member.msisdn, "month": "2026-10", "amount": "50", "paid": True}])
    assert points_of(api, member.msisdn)["balance"] == 470
    earned = PointsEntry.objects.filter(customer=member, bill_month=dt.date(2026, 10, 1)).order_by("id")
    assert [e.amount for e in earned] == [180, 20, -150]


def test_a_redemption_and_its_replay(api, member):
    # given a redemption of 250 points
    first = redeem(api, member.msisdn, 250, key="redeem-1")
    assert first.status_code == 201
    assert first.json()["balance"] == 350
    entries, records = PointsEntry.objects.count(), IdempotencyRecord.objects.count()
    # when it is replayed with the same key: the identical answer, nothing written
    replay = redeem(api, member.msisdn, 250, key="redeem-1")
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (PointsEntry.objects.count(), IdempotencyRecord.objects.count()) == (entries, records)
    assert points_of(api, member.msisdn)["balance"] == 350
    # the same key with another body is refused
    assert_error(redeem(api, member.msisdn, 1, key="redeem-1"), 409, "idempotency_key_reused")
    # oldest lots went first
    assert [(lot["year"], lot["remaining"]) for lot in points_of(api, member.msisdn)["lots"]] == [
        (2025, 50),
        (2026, 300),
    ]


def test_redemption_refusals(api, member):
    error = assert_error(redeem(api, member.msisdn, 601, key="r-big"), 409, "insufficient_points")
    assert "points" in error["fields"]
    # a refusal is replayed too (the key's first answer)
    assert_error(redeem(api, member.msisdn, 601, key="r-big"), 409, "insufficient_points")
    assert_error(redeem(api, "13999999999", 1, key="r-404"), 404, "unknown_customer")
    error = assert_error(
        api.post(
            "/api/v1/points/redemptions/", {"msisdn": "123", "points": 0}, format="json", HTTP_IDEMPOTENCY_KEY="r-bad"
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"msisdn", "points", "reference"}
    error = assert_error(
        api.post(
            "/api/v1/points/redemptions/", {"msisdn": member.msisdn, "points": 1, "reference": "x"}, format="json"
        ),
        400,
        "idempotency_key_required",
    )
    assert "Idempotency-Key" in error["fields"]
    assert not PointsEntry.objects.filter(kind="redeem").exists()


def test_a_transfer_keeps_the_expiry_and_replays(api, member):
    friend = CustomerFactory(region=member.region, brand=member.brand)
    first = transfer(api, member.msisdn, friend.msisdn, 150, key="tr-1")
    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("from_balance", "to_balance")} == {"from_balance": 450, "to_balance": 150}
    assert points_of(api, friend.msisdn)["lots"] == [
        {"year": 2024, "remaining": 100, "expires_on": "2026-12-31"},
        {"year": 2025, "remaining": 50, "expires_on": "2027-12-31"},
    ]
    entries = PointsEntry.objects.count()
    replay = transfer(api, member.msisdn, friend.msisdn, 150, key="tr-1")
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert PointsEntry.objects.count() == entries


def test_a_transfer_needs_the_same_brand_and_province(api, member):
    other_brand = CustomerFactory(region=member.region, brand="mzone")
    elsewhere = CustomerFactory(region=RegionFactory(code="BJ", name="北京", province="北京"), brand=member.brand)
    error = assert_error(transfer(api, member.msisdn, other_brand.msisdn, 10, key="x1"), 409, "transfer_not_allowed")
    assert "brand" in error["fields"]
    error = assert_error(transfer(api, member.msisdn, elsewhere.msisdn, 10, key="x2"), 409, "transfer_not_allowed")
    assert "province" in error["fields"]
    assert_error(transfer(api, member.msisdn, member.msisdn, 10, key="x3"), 400, "invalid")
    assert points_of(api, member.msisdn)["balance"] == 600


def test_freeze_and_unfreeze_via_events(api, member):
    friend = CustomerFactory(region=member.region, brand=member.brand)
    # suspended: frozen, no redemption or transfer
    assert send(api, member.msisdn, "suspended", {"kind": "arrears"}).status_code == 201
    assert points_of(api, member.msisdn)["frozen"] is True
    assert_error(redeem(api, member.msisdn, 10, key="f-1"), 409, "frozen")
    assert_error(transfer(api, member.msisdn, friend.msisdn, 10, key="f-2"), 409, "frozen")
    # but earning goes on
    post_bills(api, [{"msisdn": member.msisdn, "month": "2026-09", "amount": "10", "paid": False}])
    assert points_of(api, member.msisdn)["balance"] == 610
    # reactivated: unfrozen
    assert send(api, member.msisdn, "reactivated", {}).status_code == 201
    assert points_of(api, member.msisdn)["frozen"] is False
    assert redeem(api, member.msisdn, 10, key="f-3").status_code == 201
    # a closure request freezes again, its cancellation unfreezes
    send(api, member.msisdn, "closure_requested", {"channel": "hotline", "reason": "moving"})
    assert_error(redeem(api, member.msisdn, 10, key="f-4"), 409, "frozen")
    send(api, member.msisdn, "closure_cancelled", {})
    assert redeem(api, member.msisdn, 10, key="f-5").status_code == 201
    assert points_of(api, member.msisdn)["balance"] == 590


def test_closure_clears_the_balance(api, member):
    send(api, member.msisdn, "closure_requested", {"channel": "hall"})
    assert send(api, member.msisdn, "closed", {"kind": "voluntary"}).status_code == 201
    body = points_of(api, member.msisdn)
    assert (body["balance"], body["frozen"], body["lots"]) == (0, True, [])
    clear = PointsEntry.objects.get(customer=member, kind="clear")
    assert clear.amount == -600
    # a later bill of the closed customer earns nothing
    post_bills(api, [{"msisdn": member.msisdn, "month": "2026-09", "amount": "99", "paid": False}])
    assert points_of(api, member.msisdn)["balance"] == 0


def test_number_change_and_ownership_transfer_keep_the_points(api, member):
    send(api, member.msisdn, "ownership_transferred", {"name": "新户主", "id_number": "11010519491231002X"})
    assert send(api, member.msisdn, "number_changed", {"new_msisdn": "13912345678"}).status_code == 201
    assert points_of(api, "13912345678")["balance"] == 600
    assert_error(api.get(f"/api/v1/customers/{member.msisdn}/points/"), 404, "unknown_customer")


def test_the_moved_in_event(api, customer):
    # given a gold member of another region moving in on 20 Nov 2026 with points of 2024 and 2025
    data = {
        "from_region": "北京",
        "tier": "gold",
        "points_lots": [{"year": 2024, "points": 300}, {"year": 2025, "points": 1200}],
        "join_date": "2009-05-01",
    }
    response = send(api, customer.msisdn, "moved_in", data)
    assert response.status_code == 201, response.content
    # then the lots come along 1:1 with their expiry
    assert points_of(api, customer.msisdn)["lots"] == [
        {"year": 2024, "remaining": 300, "expires_on": "2026-12-31"},
        {"year": 2025, "remaining": 1200, "expires_on": "2027-12-31"},
    ]
    assert PointsLot.objects.filter(customer=customer, kind="moved_in").count() == 2
    # the tier is kept until 31 December of the move's year, and the join date carried over
    state = CustomerTier.objects.select_related("tier").get(customer=customer)
    assert (state.tier.code, state.source, state.valid_until) == ("gold", "transfer", dt.date(2026, 12, 31))
    assert TransferFloor.objects.get(customer=customer).from_region == "北京"
    customer.refresh_from_db()
    assert customer.join_date == dt.date(2009, 5, 1)
    # a replay answers 200 and writes nothing more
    assert send(api, customer.msisdn, "moved_in", data, event_id=response.json()["event_id"]).status_code == 200
    assert points_of(api, customer.msisdn)["balance"] == 1500


def test_a_moved_in_event_with_bad_lots_is_refused_whole(api, customer):
    bad = {"from_region": "北京", "tier": "gold", "points_lots": [{"year": 2023, "points": 5}, {"year": 2025}]}
    error = assert_error(send(api, customer.msisdn, "moved_in", bad), 400, "invalid")
    assert "points_lots" in error["fields"]["data"]
    expired = {"from_region": "北京", "points_lots": [{"year": 2023, "points": 5}]}
    error = assert_error(send(api, customer.msisdn, "moved_in", expired), 400, "invalid")
    assert "points_lots[0]" in error["fields"]["data"]
    unknown_tier = {"from_region": "北京", "tier": "mithril", "points_lots": [{"year": 2025, "points": 5}]}
    assert_error(send(api, customer.msisdn, "moved_in", unknown_tier), 400, "invalid")
    assert not PointsLot.objects.exists()


def test_the_profile_shows_points_and_credit_stars(api, member):
    body = api.get(f"/api/v1/customers/{member.msisdn}/").json()
    assert body["points"] == {"balance": 600, "frozen": False}
    # computed on demand (not stored yet): gotone 50 + tenure (joined 2015) 300 + the last bills before
    # November (180.99, 120.50, 200.00, 100.80 → average 150.57) 150 = 500: five stars
    assert (body["credit_stars"], body["credit_stars_as_of"]) == (5, "2026-11-20")


def test_the_points_api_is_documented(api, staff_user, client):
    client.force_login(staff_user)
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/customers/{msisdn}/points/", "/api/v1/points/redemptions/", "/api/v1/points/transfers/"):
        assert path in schema["paths"], path
    profile = schema["components"]["schemas"]["ClubCustomer"]["properties"]
    assert {"points", "credit_stars"} <= set(profile)
