"""The points admin as staff use it: accounts, lots and the ledger to look at (never to edit), reward rules and the
credit table to edit, the customer's points panel; and the API read pinned in queries."""

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string

from points import selectors, services
from points.admin import customer_points_html
from points.models import CreditPolicy, PointsAccount, PointsEntry, RewardRule
from points.tests.helpers import bill, customer

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def member(no_rewards):
    c = customer(brand="gotone", join_date=dt.date(2015, 1, 1))
    bill(c, dt.date(2024, 12, 1), "100", on=dt.date(2025, 1, 2))
    bill(c, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 2))
    services.points_redeem(customer=c, points=30, reference="GIFT-7", on=dt.date(2026, 6, 3))
    return c


def test_every_points_page_opens(admin_client, member):
    services.credit_ratings_compute(on=dt.date(2026, 6, 1))
    services.points_expire(on=dt.date(2026, 12, 31))
    for model in (
        "pointsaccount",
        "pointslot",
        "pointsentry",
        "rewardrule",
        "pointspolicy",
        "creditpolicy",
        "creditrating",
        "pointsjob",
    ):
        assert admin_client.get(f"/admin/points/{model}/").status_code == 200, model
    html = text(admin_client.get(f"/admin/points/pointsaccount/{member.pk}/change/"))
    assert 'class="points-balance">300<' in html
    assert "GIFT-7" in html


def test_the_ledger_cannot_be_edited_or_deleted(admin_client, member):
    entry = PointsEntry.objects.filter(customer=member).first()
    assert admin_client.get("/admin/points/pointsentry/add/").status_code == 403
    response = admin_client.post(f"/admin/points/pointsentry/{entry.pk}/change/", {"amount": 999999})
    assert response.status_code == 403
    assert admin_client.post(f"/admin/points/pointsentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PointsEntry.objects.get(pk=entry.pk).amount == entry.amount
    assert admin_client.get("/admin/points/pointsaccount/add/").status_code == 403


def test_reward_rules_are_edited_with_history(admin_client):
    rule = RewardRule.objects.get(code="gotone_brand")
    data = {
        "code": rule.code,
        "name": rule.name,
        "kind": "brand",
        "brand": "gotone",
        "min_years": 0,
        "percent": "15.00",
        "active": "on",
    }
    response = admin_client.post(f"/admin/points/rewardrule/{rule.pk}/change/", data)
    assert response.status_code == 302
    assert str(RewardRule.objects.get(pk=rule.pk).percent) == "15.00"
    assert admin_client.get(f"/admin/points/rewardrule/{rule.pk}/history/").status_code == 200


def test_the_credit_table_refuses_a_bad_shape(admin_client):
    policy = CreditPolicy.objects.get(code="default")
    data = {
        "code": "default",
        "brand_points": '{"gotone": 50}',
        "tenure_points": "[[1, 50]]",
        "average_bands": '[["twenty", 0]]',
        "over_top_band_points": 250,
        "bills_counted": 6,
        "suspension_penalty": 100,
        "suspension_months": 12,
        "star_thresholds": "[[500, 5]]",
    }
    html = text(admin_client.post(f"/admin/points/creditpolicy/{policy.pk}/change/", data))
    assert "does not have the expected shape" in html
    data["average_bands"] = '[["20", 0], ["400", 200]]'
    assert admin_client.post(f"/admin/points/creditpolicy/{policy.pk}/change/", data).status_code == 302
    assert selectors.credit_table().average_bands[-1][1] == 200


def test_the_customer_panel(member):
    # given a member with 70 of her 2024 points left (expiring 31 Dec 2026) and 300 of 2026
    panel = selectors.customer_points_panel(member, on=dt.date(2026, 11, 2))
    assert (panel["balance"], panel["frozen"], panel["expiring"]["points"]) == (370, False, 70)
    html = re.sub(r"\s+", " ", customer_points_html(member))
    assert "points-frozen" not in html and "<td>2024</td><td>70</td><td>2026-12-31</td>" in html
    # frozen, on the dashboard (a panel of its own)
    services.points_freeze(customer=member, reason="pending_closure")
    html = re.sub(
        r"\s+",
        " ",
        render_to_string(
            "points/_customer_points.html", {"points": selectors.customer_points_panel(member, on=dt.date(2026, 11, 2))}
        ),
    )
    assert '<section class="panel" id="points"' in html
    assert "frozen · pending closure" in html


def test_the_expiring_list_partial(member):
    html = render_to_string(
        "points/_expiring_list.html",
        {"expiring": selectors.expiring_customers(year=2026), "year": 2026, "customer_url": "managers:customer"},
    )
    assert f"/dashboard/customers/{member.msisdn}/" in html and "70 points" in html


def test_reading_a_customers_points_is_a_few_queries(admin_client, member, django_assert_max_num_queries):
    # given more lots and entries do not add queries
    bill(member, dt.date(2025, 7, 1), "55", on=dt.date(2025, 8, 1))
    with django_assert_max_num_queries(8):
        body = admin_client.get(f"/api/v1/customers/{member.msisdn}/points/").json()
    assert body["balance"] == PointsAccount.objects.get(customer=member).balance == 425
