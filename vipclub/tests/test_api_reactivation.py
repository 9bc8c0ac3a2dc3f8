"""Emergency reactivation (DOMAIN §5) and credit reactivation by credit stars (信用开机, DOMAIN §10) do not stack:
one per occasion, the longer applies."""

import datetime as dt

import pytest
from django.utils import timezone

from benefits import rules as benefit_rules
from benefits.models import BenefitEntry
from benefits.tests.helpers import ON, account, member
from core.tests.helpers import assert_error
from points import rules as points_rules
from points.models import CreditRating

pytestmark = pytest.mark.django_db

URL = "/api/v1/benefits/redemptions/"


@pytest.fixture
def api(django_user_model):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("boss", password="x"))
    return client


def suspended_member(tier: str, stars: int):
    customer = member(tier, status="suspended", suspension_kind="arrears")
    CreditRating.objects.create(customer=customer, stars=stars, score=stars * 100, as_of=ON, computed_at=timezone.now())
    return customer


def reactivate(api, customer, key: str):
    body = {
        "msisdn": customer.msisdn,
        "benefit": "emergency_reactivation",
        "reference": "BOSS-1",
        "redeemed_on": ON.isoformat(),
    }
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_credit_reactivation_hours_by_stars():
    # given the seeded table: five stars 72 h, four 48 h, three 24 h
    table = points_rules.DEFAULT_CREDIT_TABLE
    # when / then
    assert [points_rules.credit_reactivation_hours(table, s) for s in (5, 4, 3, 2, 0)] == [72, 48, 24, 0, 0]


def test_the_longer_reactivation_applies():
    # given an emergency reactivation of 48 h, then of 72 h, and a credit reactivation of 72 h
    # when / then the credit one applies when it is longer, else the emergency one asked for
    assert benefit_rules.reactivation_applied(emergency_hours=48, credit_hours=72) == "credit"
    assert benefit_rules.reactivation_applied(emergency_hours=72, credit_hours=72) == "emergency"
    assert benefit_rules.reactivation_applied(emergency_hours=72, credit_hours=48) == "emergency"
    assert benefit_rules.reactivation_applied(emergency_hours=48, credit_hours=0) == "emergency"


def test_a_silver_member_with_five_stars_gets_the_longer_credit_reactivation_not_both(api):
    # given a silver member (emergency reactivation 48 h) with five credit stars (credit reactivation 72 h),
    # suspended for arrears
    customer = suspended_member("silver", stars=5)
    # when billing asks for an emergency reactivation
    error = assert_error(reactivate(api, customer, "r-1"), 409, "credit_reactivation_applies")
    # then the credit reactivation applies (72 h), and no emergency reactivation is used: they do not stack
    assert error["fields"] == {"credit_hours": ["72"]}
    assert "72 h" in error["message"]
    assert not BenefitEntry.objects.filter(kind="redeem").exists()
    assert account(customer, "emergency_reactivation", "2026-03") is None or (
        account(customer, "emergency_reactivation", "2026-03").used == 0
    )


def test_a_gold_member_with_four_stars_gets_the_longer_emergency_reactivation_only(api):
    # given a gold member (emergency reactivation 72 h) with four credit stars (credit reactivation 48 h)
    customer = suspended_member("gold", stars=4)
    # when billing asks for an emergency reactivation
    response = reactivate(api, customer, "r-2")
    # then the emergency reactivation applies: 72 h, one use of the month's 3
    assert response.status_code == 201, response.content
    assert (response.json()["hours"], response.json()["remaining"]) == (72, 2)
    assert dt.date.fromisoformat(response.json()["period_start"]) == dt.date(2026, 3, 1)
