"""Staff edit a member SMS template in the admin and preview it for the sample member before saving (htmx); a
manager sees the tier-expiring panel on her member's page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.dates import add_months
from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import CustomerFactory, RegionFactory
from customers.models import BillingMonth, MonthlyBill
from managers.models import AccountManager, Assignment
from partners.models import SmsTemplate
from tiers.models import CustomerTier, Tier

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"


def test_staff_preview_an_edited_sms_template_and_a_misspelt_placeholder_is_named(
    live_server, page, artifacts, django_user_model
):
    # given a club admin on the zh-hans "tier expiring" template
    django_user_model.objects.create_superuser("sms-admin", password=PASSWORD)
    template = SmsTemplate.objects.get(kind="tier_expiring", language="zh-hans")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/partners/smstemplate/{template.pk}/change/")
    page.fill("input[name=username]", "sms-admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    # the saved text for the sample member
    expect(page.locator("#sms-preview")).to_contain_text("王芳")
    # when she types a misspelt placeholder and asks for a preview, then it is named
    page.fill("textarea[name=body]", "{name}您好，保级还差{neded}元")
    page.click("button:has-text('Preview')")
    expect(page.locator("#sms-live-preview")).to_contain_text("Unknown placeholder {neded}")
    # when she corrects it, then she sees the text filled in, and nothing was saved
    page.fill("textarea[name=body]", "{name}您好，您的{tier}保级还差{needed}元")
    page.click("button:has-text('Preview')")
    expect(page.locator("#sms-live-preview")).to_contain_text("王芳您好，您的金卡保级还差350.00元")
    page.screenshot(path=str(artifacts / "sms-template-preview.png"), full_page=True)
    assert SmsTemplate.objects.get(pk=template.pk).body == template.body


def test_the_manager_sees_the_tier_expiring_panel_on_her_member_s_page(live_server, page, artifacts):
    # given a manager's gold member by score whose validity ends in 20 days, 11 bills of 120.90 in her next window
    today = timezone.localdate()
    until = today + dt.timedelta(days=20)
    run_month = add_months(until.replace(day=1), 1)  # the run after it (run day 1)
    window = [add_months(run_month, -i) for i in range(12, 1, -1)]  # the 11 closed months of its 12
    for month in window:
        BillingMonth.objects.update_or_create(month=month, defaults={"closed_at": timezone.now()})
    user = get_user_model().objects.create_user(username="wang", password=PASSWORD)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    manager = AccountManager.objects.create(user=user, employee_no="E1", name="王经理", region=RegionFactory())
    member = CustomerFactory(region=manager.region, msisdn="13812340000", name="李娜", join_date=dt.date(2010, 1, 1))
    CustomerTier.objects.create(
        customer=member, tier=Tier.objects.get(code="gold"), source="score", since=today, valid_until=until
    )
    Assignment.objects.create(customer=member, manager=manager, started_on=today, reason="new_member")
    MonthlyBill.objects.bulk_create(
        MonthlyBill(customer=member, month=m, amount=Decimal("120.90"), paid=True) for m in window
    )
    # when she opens the member's page
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/customers/13812340000/")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    panel = page.locator("#tier-expiring")
    # then: 11 × 120 + 300 = 1620 points so far, 380 yuan still needed for gold's 2000
    expect(panel).to_contain_text("20")
    expect(panel).to_contain_text("1620")
    expect(panel).to_contain_text("¥380.00")
    panel.screenshot(path=str(artifacts / "tier-expiring-panel.png"))
    page.screenshot(path=str(artifacts / "tier-expiring-page.png"), full_page=True)
