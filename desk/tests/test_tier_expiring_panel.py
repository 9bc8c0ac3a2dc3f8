"""The manager's customer page shows a score-won tier that ends within 30 days, with the spend still needed to keep
it (the `tier.expiring` event's figures)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import CustomerFactory, RegionFactory
from customers.models import MonthlyBill
from managers.models import AccountManager, Assignment
from tiers.models import CustomerTier, Tier
from tiers.tests.helpers import close_months

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def on_today():
    with time_machine.travel(dt.datetime(2026, 6, 10, 9, 30, tzinfo=SHANGHAI), tick=False):
        yield


def member_of(manager, *, valid_until: dt.date, msisdn: str):
    customer = CustomerFactory(region=manager.region, msisdn=msisdn, join_date=dt.date(2010, 1, 1))
    CustomerTier.objects.create(
        customer=customer,
        tier=Tier.objects.get(code="gold"),
        source="score",
        since=dt.date(2025, 7, 1),
        valid_until=valid_until,
    )
    Assignment.objects.create(customer=customer, manager=manager, started_on=dt.date(2025, 7, 1), reason="new_member")
    month = dt.date(2025, 7, 1)
    while month <= dt.date(2026, 5, 1):
        MonthlyBill.objects.create(customer=customer, month=month, amount=Decimal("120.90"), paid=True)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return customer


def test_the_customer_page_shows_the_spend_still_needed_when_the_tier_ends_within_30_days(client):
    # given a manager with a gold member by score valid until 30 June 2026 (20 days from today), 11 bills of 120.90
    user = get_user_model().objects.create_user(username="e100", password="x-Pass-1234")
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    manager = AccountManager.objects.create(user=user, employee_no="E100", name="王经理", region=RegionFactory())
    close_months(dt.date(2024, 1, 1), dt.date(2026, 5, 1))
    member_of(manager, valid_until=dt.date(2026, 6, 30), msisdn="13866667777")
    member_of(manager, valid_until=dt.date(2026, 7, 31), msisdn="13866668888")
    client.force_login(user)
    # when the manager opens her page
    html = client.get("/dashboard/customers/13866667777/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then the panel: 11 × 120 + 300 tenure bonus = 1620 so far, 380 yuan short of gold's 2000
    start = html.index('id="tier-expiring"')
    panel = html[start : html.index("</section>", start)]
    assert "2026-06-30" in panel and "20 days left" in panel
    assert "1620" in panel and "¥380.00" in panel
    # and a member whose tier ends in 51 days has no such panel
    other = client.get("/dashboard/customers/13866668888/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="tier-expiring"' not in other
    # and in Chinese
    zh = client.get("/dashboard/customers/13866667777/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'id="tier-expiring"' in zh
