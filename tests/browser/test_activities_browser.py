"""The desk's activities tab on a phone (390×844, zh-hans): a manager signs up her invited members for a club
activity with one seat; the second joins the waitlist and is shown her place in line."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member
from service.activities.factories import make_activity
from service.activities.models import Signup

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_a_manager_signs_up_her_members_on_a_phone(live_server, browser, artifacts):
    # given a manager with two gold members and a club-wide lecture with one seat, sign-up open
    gz = RegionFactory(code="GZ", name="广州")
    manager = make_manager("E1", region=gz)
    manager.user.username = "chen"
    manager.user.save()
    for i, name in enumerate("李王"):
        make_member(manager=manager, tier="gold", msisdn=f"1380000000{i}", name=name)
    now = timezone.now()
    make_activity(
        title="VIP讲堂：家庭理财",
        capacity=1,
        quotas={"gold": None},
        opens=now - dt.timedelta(hours=1),
        closes=now + dt.timedelta(days=3),
    )
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, locale="zh-CN"
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/activities/")
        page.fill("input[name=username]", "chen")
        page.fill("input[name=password]", "pw-Secret-123")
        page.click("form.login button[type=submit]")
        expect(page).to_have_url(f"{live_server.url}/dashboard/activities/")
        expect(page.locator("#activities-h")).to_contain_text("会员活动")
        # when she signs up both: the first has the seat, the second waits, number 1 in line
        page.locator('[data-msisdn="138****0000"] [data-action="signup"]').click()
        expect(page.locator("ul.messages")).to_contain_text("已确认席位")
        page.locator('[data-msisdn="138****0001"] [data-action="signup"]').click()
        expect(page.locator("ul.messages")).to_contain_text("候补，排第 1 位")
        expect(page.locator('[data-msisdn="138****0001"] .chip')).to_contain_text("候补第 1 位")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "desk-activities-zh-hans.png"))
        assert sorted(Signup.objects.values_list("status", flat=True)) == ["confirmed", "waitlisted"]
    finally:
        context.close()
