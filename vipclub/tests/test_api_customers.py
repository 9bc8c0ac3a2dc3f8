"""Customers, regions, bills and billing months through the REST API, including every bad input."""

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from core.tests.helpers import assert_error, client_with
from customers.factories import CustomerFactory, make_id_number
from customers.models import BillingMonth, Customer, MonthlyBill, PlanPeriod, Region
from managers.factories import AssignmentFactory, ManagerFactory
from points.factories import PointsAccountFactory
from points.models import CreditRating
from tiers.factories import CustomerTierFactory
from vipclub.api.serializers import ClubCustomerSerializer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def customer_row(i: int, **overrides) -> dict:
    row = {
        "msisdn": f"139{i:08d}",
        "name": f"王{i}",
        "id_number": make_id_number(i),
        "join_date": "2016-04-02",
        "brand": "gotone",
        "product_type": "primary",
        "plan_code": "388",
        "plan_started_on": "2020-01-01",
        "region": "GZ",
        "landline": "020-12345678",
    }
    row.update(overrides)
    return row


def test_health_needs_no_login(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] in {"ok", "unavailable"}
    assert body["status"] in {"ok", "degraded"}  # degraded with no worker heartbeat: tests/test_self_healing.py


def test_everything_else_needs_a_login(region):
    anonymous = APIClient()
    assert_error(anonymous.get("/api/v1/customers/"), 401, "not_authenticated")
    assert_error(anonymous.post("/api/v1/customers/bulk/", [], format="json"), 401, "not_authenticated")
    bad_token = APIClient(HTTP_AUTHORIZATION="Token nope")
    assert_error(bad_token.get("/api/v1/customers/"), 401, "authentication_failed")


def test_a_plain_user_is_forbidden(django_user_model, region):
    # a login nobody gave a role (issue 13): the 403 says the role is missing
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user(username="nobody"))
    assert_error(client.get("/api/v1/customers/"), 403, "role_missing")


def test_region_upsert(api):
    created = api.put("/api/v1/regions/SZ/", {"name": "深圳", "province": "广东"}, format="json")
    assert created.status_code == 201
    updated = api.put("/api/v1/regions/SZ/", {"name": "深圳市", "province": "广东"}, format="json")
    assert updated.status_code == 200
    assert updated.json() == {"code": "SZ", "name": "深圳市", "province": "广东"}
    error = assert_error(api.put("/api/v1/regions/SZ/", {"name": ""}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"name", "province"}


def test_bulk_upsert_creates_then_updates(api, region):
    rows = [customer_row(i) for i in range(5)]
    response = api.post("/api/v1/customers/bulk/", rows, format="json")
    assert response.json() == {"created": 5, "updated": 0}
    rows[0]["name"] = "王改名"
    rows.append(customer_row(99, plan_code="", plan_started_on=None))
    response = api.post("/api/v1/customers/bulk/", rows, format="json")
    assert response.json() == {"created": 1, "updated": 5}
    first = Customer.objects.get(msisdn=rows[0]["msisdn"])
    assert first.name == "王改名"
    assert first.birthday == dt.date(1985, 6, 15)  # taken from the ID number
    assert PlanPeriod.objects.filter(customer=first, plan_code="388", started_on=dt.date(2020, 1, 1)).exists()
    assert Customer.objects.get(msisdn=rows[-1]["msisdn"]).plan_code == ""


def test_bulk_with_three_bad_rows_among_100_writes_nothing_and_names_each(api, region):
    # given 100 rows of which rows 7, 42 and 99 are bad in different ways
    rows = [customer_row(i) for i in range(100)]
    rows[7]["msisdn"] = "139000000071"  # 12 digits
    rows[42]["region"] = "NOWHERE"
    rows[99]["join_date"] = 20160402  # wrong type
    rows[99]["brand"] = "apple"
    # when posted
    error = assert_error(api.post("/api/v1/customers/bulk/", rows, format="json"), 400, "invalid_rows")
    # then exactly those rows are named, each with its bad fields, and nothing was written
    assert set(error["fields"]) == {"7", "42", "99"}
    assert set(error["fields"]["7"]) == {"msisdn"}
    assert "Unknown region" in error["fields"]["42"]["region"][0]
    assert set(error["fields"]["99"]) == {"join_date", "brand"}
    assert "3 of 100 rows" in error["message"]
    assert Customer.objects.count() == 0


def test_bulk_refuses_duplicates_non_objects_and_bad_ids(api, region):
    rows = [customer_row(1), customer_row(1), "not a row", customer_row(3, id_number="110105194912310021")]
    error = assert_error(api.post("/api/v1/customers/bulk/", rows, format="json"), 400, "invalid_rows")
    assert "Duplicate of row 0" in error["fields"]["1"]["msisdn"][0]
    assert "JSON object" in error["fields"]["2"]["non_field_errors"][0]
    assert "check digit" in error["fields"]["3"]["id_number"][0]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ('[{"msisdn": ', "application/json", "malformed_request"),
        ('{"msisdn": "13800138000"}', "application/json", "invalid"),
        ("[]", "application/json", "invalid"),
        ("msisdn=1", "text/plain", "unsupported_media_type"),
    ],
)
def test_bulk_refuses_malformed_bodies(api, region, body, content_type, code):
    response = api.generic("POST", "/api/v1/customers/bulk/", body, content_type=content_type)
    assert_error(response, 415 if code == "unsupported_media_type" else 400, code)


def test_bulk_refuses_too_many_rows(api, region, settings):
    settings.VIPCLUB_BULK_MAX_ROWS = 3
    error = assert_error(
        api.post("/api/v1/customers/bulk/", [customer_row(i) for i in range(4)], format="json"), 400, "too_many_rows"
    )
    assert "at most 3" in error["message"]


def test_list_masks_personal_data_and_filters(django_user_model, region):
    # a client without the `pii` scope (with it, lists show msisdns and ID numbers in clear: test_api_hygiene)
    api = client_with(django_user_model, "reader", ["read"])
    sz = Region.objects.create(code="SZ", name="深圳", province="广东")
    CustomerFactory(msisdn="13812345678", name="张三", region=region)
    CustomerFactory(
        msisdn="13912345678", name="李四", region=sz, brand="mzone", status="suspended", suspension_kind="arrears"
    )
    response = api.get("/api/v1/customers/")
    body = response.json()
    assert body["count"] == 2
    assert body["results"][0]["msisdn"] == "138****5678"
    assert body["results"][0]["id_number"].startswith("440106") and "*" in body["results"][0]["id_number"]
    assert "13812345678" not in response.content.decode()
    assert [r["name"] for r in api.get("/api/v1/customers/?region=SZ").json()["results"]] == ["李四"]
    assert [r["name"] for r in api.get("/api/v1/customers/?status=suspended").json()["results"]] == ["李四"]
    assert [r["name"] for r in api.get("/api/v1/customers/?brand=gotone").json()["results"]] == ["张三"]
    assert [r["name"] for r in api.get("/api/v1/customers/?search=1391").json()["results"]] == ["李四"]
    assert [r["name"] for r in api.get("/api/v1/customers/?search=张").json()["results"]] == ["张三"]
    error = assert_error(api.get("/api/v1/customers/?status=sleeping"), 400, "invalid")
    assert "status" in error["fields"]


def test_list_query_count_does_not_grow_with_rows(api, region, django_assert_max_num_queries):
    CustomerFactory.create_batch(30, region=region)
    with django_assert_max_num_queries(6):
        assert len(api.get("/api/v1/customers/?page_size=30").json()["results"]) == 30


def test_detail_and_unknown_msisdn(api, customer):
    body = api.get(f"/api/v1/customers/{customer.msisdn}/").json()
    assert (body["msisdn"], body["region"], body["status"]) == (customer.msisdn, "GZ", "active")
    assert_error(api.get("/api/v1/customers/13999999999/"), 404, "unknown_customer")
    assert_error(api.get("/api/v1/customers/139999999990/"), 404, "unknown_customer")


@pytest.fixture
def member(customer, django_user_model):
    """A gold member with an account manager (a past one too), points and stored credit stars."""
    CustomerTierFactory(customer=customer, since=dt.date(2026, 1, 1), valid_until=dt.date(2027, 1, 31))
    before, now = (
        ManagerFactory(employee_no=no, name=name, user__username=no.lower(), region=customer.region, in_group=False)
        for no, name in [("E001", "李前"), ("E002", "王丽")]
    )
    AssignmentFactory(
        customer=customer,
        manager=before,
        started_on=dt.date(2025, 3, 1),
        ended_on=dt.date(2026, 2, 1),
        end_reason="reassigned",
    )
    AssignmentFactory(customer=customer, manager=now, started_on=dt.date(2026, 2, 1), reason="reassigned")
    PointsAccountFactory(customer=customer, balance=1234, total_consumption=1234)
    CreditRating.objects.create(
        customer=customer, stars=4, score=88, as_of=dt.date(2026, 6, 1), computed_at=timezone.now()
    )
    return customer


def profile_client(django_user_model, scopes) -> APIClient:
    return client_with(django_user_model, f"client-{'-'.join(scopes)}", scopes)


@pytest.mark.parametrize(("scopes", "queries"), [(["read", "pii"], 3), (["read"], 5)])
def test_profile_of_a_member_in_few_queries(django_user_model, member, django_assert_max_num_queries, scopes, queries):
    # given a member with a tier, a manager, points and credit stars, and an API client with a token
    client = profile_client(django_user_model, scopes)
    # when the client reads her profile
    with django_assert_max_num_queries(queries):
        response = client.get(f"/api/v1/customers/{member.msisdn}/")
    # then it holds the current tier, the active manager, the points and the stored stars
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["msisdn"], body["region"], body["status"]) == (member.msisdn, "GZ", "active")
    assert body["tier"]["code"] == "gold"
    assert (body["tier"]["valid_until"], body["tier"]["source"]) == ("2027-01-31", "score")
    assert body["manager"] == {"employee_no": "E002", "name": "王丽", "since": "2026-02-01"}
    assert body["points"] == {"balance": 1234, "frozen": False}
    assert (body["credit_stars"], body["credit_stars_as_of"]) == (4, "2026-06-01")
    # and the ID number in clear only with the `pii` scope
    if "pii" in scopes:
        assert body["id_number"] == member.id_number
    else:
        assert body["id_number"] != member.id_number and "*" in body["id_number"]
        assert body["id_number"][:6] == member.id_number[:6] and body["id_number"][-4:] == member.id_number[-4:]


def make_state(customer, state: str, users) -> None:
    if state == "bare":
        return
    if state == "left_the_club":  # a tier row without a tier, an ended assignment, a frozen empty account
        CustomerTierFactory(customer=customer, code=None, since=dt.date(2026, 1, 1))
        manager = ManagerFactory(
            employee_no="E009", name="赵", user__username="e009", region=customer.region, in_group=False
        )
        AssignmentFactory(
            customer=customer,
            manager=manager,
            started_on=dt.date(2025, 1, 1),
            ended_on=dt.date(2026, 1, 1),
            end_reason="left_club",
        )
        PointsAccountFactory(customer=customer, balance=0, frozen=True, frozen_reason="closed")
    if state == "suspended":  # frozen by her status, stars never computed
        Customer.objects.filter(pk=customer.pk).update(status="suspended", suspension_kind="arrears")
        PointsAccountFactory(customer=customer, balance=50)


@pytest.mark.parametrize("state", ["bare", "left_the_club", "suspended", "member"])
def test_the_profile_equals_the_one_read_piece_by_piece(request, django_user_model, customer, state):
    # given a customer in some state, and a day fixed for stars computed on demand
    if state == "member":
        request.getfixturevalue("member")
    else:
        make_state(customer, state, django_user_model)
    with time_machine.travel(dt.datetime(2026, 6, 10, 12, tzinfo=SHANGHAI), tick=False):
        for scopes in (["read", "pii"], ["read"]):
            client = profile_client(django_user_model, scopes)
            # when an API client reads her profile (related rows joined in one query)
            response = client.get(f"/api/v1/customers/{customer.msisdn}/")
            # then it is exactly what the serializer gives for a customer read alone (each part by its selector)
            plain = Customer.objects.get(pk=customer.pk)
            as_client = SimpleNamespace(user=django_user_model.objects.get(username=f"api-client-{'-'.join(scopes)}"))
            expected = ClubCustomerSerializer(plain, context={"request": as_client}).data
            assert response.json() == json.loads(JSONRenderer().render(expected))
    assert not CreditRating.objects.filter(customer=customer).exists() or state == "member"


def test_bills_bulk_creates_corrects_and_names_bad_rows(api, customer):
    rows = [
        {"msisdn": customer.msisdn, "month": "2026-09", "amount": "388.50", "paid": True},
        {"msisdn": customer.msisdn, "month": "2026-10", "amount": "120.05"},
    ]
    assert api.post("/api/v1/bills/bulk/", rows, format="json").json() == {"created": 2, "updated": 0}
    rows[0]["amount"] = "400.00"
    assert api.post("/api/v1/bills/bulk/", rows[:1], format="json").json() == {"created": 0, "updated": 1}
    assert MonthlyBill.objects.get(month=dt.date(2026, 9, 1)).amount == Decimal("400.00")

    bad = [
        {"msisdn": "13999999999", "month": "2026-09", "amount": "1.00"},  # unknown customer
        {"msisdn": customer.msisdn, "month": "2026-13", "amount": "1.00"},  # bad month
        {"msisdn": customer.msisdn, "month": "2026-08", "amount": "-5"},  # negative
        {"msisdn": customer.msisdn, "month": "2026-07", "amount": "1.005"},  # sub-fen
        {"msisdn": customer.msisdn, "month": "2026-06", "amount": "abc", "paid": "maybe"},
        {"msisdn": customer.msisdn, "month": "2026-05", "amount": "10.00"},  # good
    ]
    error = assert_error(api.post("/api/v1/bills/bulk/", bad, format="json"), 400, "invalid_rows")
    assert set(error["fields"]) == {"0", "1", "2", "3", "4"}
    assert "Unknown customer" in error["fields"]["0"]["msisdn"][0]
    assert set(error["fields"]["4"]) == {"amount", "paid"}
    assert not MonthlyBill.objects.filter(month=dt.date(2026, 5, 1)).exists()


def test_billing_month_close(api):
    response = api.post("/api/v1/billing-months/2026-09/close/")
    assert response.status_code == 200
    assert response.json()["month"] == "2026-09"
    assert BillingMonth.objects.get(month=dt.date(2026, 9, 1)).closed_at is not None
    assert api.post("/api/v1/billing-months/2026-09/close/").json() == response.json()
    error = assert_error(api.post("/api/v1/billing-months/2026-9/close/"), 400, "invalid")
    assert "YYYY-MM" in error["message"]
    assert_error(api.post("/api/v1/billing-months/2099-01/close/"), 409, "month_not_over")


def test_idempotency_key_replays_the_first_answer(api, customer):
    rows = [{"msisdn": customer.msisdn, "month": "2026-09", "amount": "100.00"}]
    first = api.post("/api/v1/bills/bulk/", rows, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    replay = api.post("/api/v1/bills/bulk/", rows, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.json() == replay.json() == {"created": 1, "updated": 0}
    assert replay["Idempotent-Replayed"] == "true"
    other = [{"msisdn": customer.msisdn, "month": "2026-09", "amount": "200.00"}]
    assert_error(
        api.post("/api/v1/bills/bulk/", other, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"),
        409,
        "idempotency_key_reused",
    )
    assert MonthlyBill.objects.get().amount == Decimal("100.00")


def test_unknown_api_path_is_a_json_404(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404, "not_found")


def test_schema_lists_the_contract_paths(admin_client):
    response = admin_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in [
        "/api/v1/health/",
        "/api/v1/regions/{code}/",
        "/api/v1/customers/bulk/",
        "/api/v1/customers/",
        "/api/v1/customers/{msisdn}/",
        "/api/v1/bills/bulk/",
        "/api/v1/billing-months/{month}/close/",
        "/api/v1/events/",
    ]:
        assert path in paths


def test_api_docs_render_from_local_assets(admin_client, client):
    assert client.get("/api/docs/").status_code == 302  # login first
    html = admin_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()
