"""The manager's customer page on a phone (390×844, zh-hans), in a real browser: a member who asked to leave shows
her retention case, and one tap with an offer chosen moves it; her name reads family name first; every field has a
label; the page stays under four screens. Screenshot: docs/screenshots/desk-customer-zh-hans.png."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import CustomerFactory, RegionFactory
from managers.models import AccountManager, Assignment, ContactLog, MembershipCard, Obligation
from retention import services as retention_services
from retention.models import RetentionCase
from tiers.models import CustomerTier, Tier, TierChange

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-2"
PHONE = {"width": 390, "height": 844}
SCREENS = 4
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def a_member_who_asked_to_leave() -> tuple[AccountManager, RetentionCase]:
    """Manager 陈晓燕 and her diamond member 林婉清, a member for years (a tier history), called every month (a long
    trail), with a card on its way, who asked to leave two days ago; the case was contacted. Dates are relative to
    the real today: the live server runs on the real clock."""
    today = timezone.localdate()
    now = timezone.now()
    region = RegionFactory(name="广州")
    user = get_user_model().objects.create_user(username="chen", password=PASSWORD, first_name="晓燕", last_name="陈")
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    manager = AccountManager.objects.create(user=user, employee_no="E017", name="陈晓燕", region=region)
    tiers = {t.code: t for t in Tier.objects.all()}
    customer = CustomerFactory(region=region, name="林婉清", msisdn="13912345678", birthday=dt.date(1982, 3, 8))
    CustomerTier.objects.create(
        customer=customer, tier=tiers["diamond"], source="score", since=dt.date(2024, 1, 1), valid_until=None
    )
    Assignment.objects.create(customer=customer, manager=manager, started_on=dt.date(2023, 1, 2), reason="new_member")
    TierChange.objects.bulk_create(
        TierChange(
            customer=customer,
            from_tier=tiers["gold"] if i % 2 else tiers["diamond"],
            to_tier=tiers["diamond"] if i % 2 else tiers["gold"],
            transition="upgraded" if i % 2 else "downgraded",
            reason="score",
            score=9000 + 37 * i,
            effective_on=dt.date(2022, 1, 1) + dt.timedelta(days=31 * i),
        )
        for i in range(15)
    )
    notes = ["客户对套餐满意", "提醒积分年底到期", "", "询问国际漫游资费", ""]
    ContactLog.objects.bulk_create(
        ContactLog(
            customer=customer,
            manager=manager,
            channel="call" if i % 3 else "sms",
            outcome="reached",
            note=notes[i % len(notes)],
            occurred_at=now - dt.timedelta(days=30 * i + 3),
        )
        for i in range(36)
    )
    MembershipCard.objects.create(customer=customer, tier=tiers["diamond"], state="at_maker", card_name="林婉清")
    Obligation.objects.create(
        customer=customer,
        manager=manager,
        kind="periodic_contact",
        period="now",
        opened_on=today - dt.timedelta(days=20),
        due_on=today - dt.timedelta(days=2),
        status="overdue",
    )
    case, _ = retention_services.closure_request(
        customer=customer,
        reason="换到竞争对手的家庭套餐",
        reason_category="competitor_offer",
        channel="hotline",
        at=now - dt.timedelta(days=2),
        source="hotline",
    )
    case = retention_services.case_transition(
        case=case, to="contacted", actor=user, channel="call", note="客户愿意听方案", at=now - dt.timedelta(days=1)
    )
    return manager, case


def test_a_member_with_a_case_shows_it_and_moves_it_on_a_phone(live_server, browser):
    # given: the manager on her phone, in Chinese, logged in through the login page
    _manager, case = a_member_who_asked_to_leave()
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}/accounts/login/")
        phone.fill("input[name=username]", "chen")
        phone.fill("input[name=password]", PASSWORD)
        phone.click("form.login button[type=submit]")
        expect(phone).to_have_url(f"{live_server.url}/dashboard/")

        # when: she opens the member's page
        phone.goto(f"{live_server.url}/dashboard/customers/13912345678/")

        # then: her own name family name first, the case first on the page with its reason and next step
        expect(phone.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(phone.locator("header .who")).to_have_text("陈晓燕")
        panel = phone.locator("#case")
        expect(panel).to_have_attribute("data-state", "contacted")
        expect(panel).to_contain_text("竞争对手")
        expect(panel).to_contain_text("换到竞争对手的家庭套餐")
        expect(panel.locator(".chip")).to_have_text("已联系")
        case_top = panel.bounding_box()["y"]
        assert case_top < PHONE["height"], case_top  # on the first screen
        # every field of the page has a label
        unlabelled = phone.evaluate(
            """() => [...document.querySelectorAll('main input, main select, main textarea')]
                 .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.outerHTML)"""
        )
        assert unlabelled == [], unlabelled
        # and the page, with a year of tier history and three years of contacts, stays under four screens
        height = phone.evaluate("document.documentElement.scrollHeight")
        print(f"customer page height on a 390×844 phone: {height} px ({height / PHONE['height']:.2f} screens)")
        assert height < SCREENS * PHONE["height"], height
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "desk-customer-zh-hans.png"), full_page=True)

        # when: she chooses an offer and taps "已提供方案"
        panel.get_by_label("挽留方案").select_option("data_bonus")
        panel.get_by_role("button", name="已提供方案").click()

        # then: back on her page, the case shows the offer made and the next steps
        expect(phone).to_have_url(re.compile(r"/dashboard/customers/13912345678/#case$"))
        expect(phone.locator("#case")).to_have_attribute("data-state", "offer_made")
        expect(phone.locator("#case .chip")).to_have_text("已提供方案")
        expect(phone.locator("#case").get_by_role("button", name="已挽留")).to_be_visible()
    finally:
        context.close()
    case.refresh_from_db()
    assert case.state == "offer_made" and case.offer.code == "data_bonus" and case.manager.user.username == "chen"
