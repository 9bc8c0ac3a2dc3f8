"""The audit trail as people read it (issue 16 item 6): local time to the minute, user names rather than ids,
labels in the user's language, values through the field's choices; on the audit page, each object's History page
and the action log."""

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from core import actors
from customers.models import BillingMonth
from managers.tests.helpers import make_member
from tiers import services as tier_services
from tiers.models import Tier

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
APPROVED_AT = dt.datetime(2026, 11, 20, 1, 5, 42, 123456, tzinfo=dt.UTC)  # 09:05 in Shanghai


def text(response) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).replace("\xa0", " ")
    return re.sub(r"\s+", " ", plain).replace("→ ", "→ ").replace(" →", " →")


@pytest.fixture
def approved_override():
    # given an override proposed by 周主管 and approved by 陈经理, both staff
    users = get_user_model().objects
    proposer = users.create_user("zhou", first_name="主管", last_name="周", is_staff=True, is_superuser=True)
    approver = users.create_user("chen", first_name="经理", last_name="陈", is_staff=True, is_superuser=True)
    member = make_member(tier="gold")
    override = tier_services.tier_override_create(
        customer=member,
        tier=Tier.objects.get(code="diamond"),
        reason="key account",
        starts_on=dt.date(2026, 11, 20),
        ends_on=dt.date(2027, 3, 31),
        actor=proposer,
    )
    tier_services.tier_override_approve(override=override, actor=approver, at=APPROVED_AT)
    client = Client()
    client.force_login(approver)
    return override, client


def test_the_audit_page_names_the_approver_and_shows_the_status_label(approved_override):
    override, client = approved_override
    # when staff read the audit trail
    page = text(client.get("/admin/audit/", {"model": "tiers.tieroverride"}))
    # then the approval names the approver, not her id, and the status by its label, not its code
    assert "陈经理 (chen)" in page
    assert "Awaiting approval → Approved" in page
    assert f"— → {override.approved_by_id} " not in page and "pending → approved" not in page
    # and the approval time is the local time to the minute, without seconds or microseconds
    assert "2026-11-20 09:05" in page and "09:05:42" not in page and "123456" not in page


def test_the_objects_history_page_is_readable_too(approved_override):
    override, client = approved_override
    # when staff open the override's own History page
    page = text(client.get(reverse("admin:tiers_tieroverride_history", args=[override.pk])))
    # then the change names the approver and the status through its choices, the user column names people
    assert "陈经理 (chen)" in page
    assert "Awaiting approval → Approved" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)


def test_the_history_page_in_chinese_shows_chinese_labels_and_values(approved_override):
    override, client = approved_override
    # when a zh-hans user opens the History page
    client.cookies["django_language"] = "zh-hans"
    page = text(
        client.get(reverse("admin:tiers_tieroverride_history", args=[override.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    )
    # then labels and values are Chinese: no English field label or status
    assert "Approved" not in page and "Status" not in page and "approved by" not in page.lower()


def test_the_action_log_shows_local_minutes_and_readable_action(admin_client, django_user_model):
    # given a billing month closed by a staff user at 17:59:30 UTC (01:59 the next day in Shanghai)
    month = BillingMonth.objects.create(month=dt.date(2026, 10, 1))
    actors.record(
        actor=django_user_model(username="finance"),
        action="billing_month_closed",
        target=month,
        at=dt.datetime(2026, 11, 1, 17, 59, 30, 5, tzinfo=dt.UTC),
    )
    # when staff read the action log
    page = text(admin_client.get(reverse("admin:core_actionlog_changelist")))
    # then the time is local, to the minute, and the action and its target read as words
    assert "2026-11-02 01:59" in page and "01:59:30" not in page
    assert "billing month closed" in page and "billing_month_closed" not in page.split("By action")[0]
