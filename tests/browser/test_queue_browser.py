"""The work queue on a phone (390×844, zh-hans) for a manager with a real backlog (150 overdue): the header's true
count, paging to the 150th, the order (days late, then tier), one tap on "已接通" and its undo within 10 seconds,
the notifications badge opening the inbox, and every desk page under 4 screens tall before paging."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import RegionFactory
from managers.factories import queue_backlog
from managers.models import AccountManager, ContactLog, MembershipCard, Notification, Obligation, ServicePlan, WorkLog
from retention import services as retention_services
from tiers.models import Tier

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"
PHONE = {"width": 390, "height": 844}
SCREENS = 4
RANK = {"diamond": 3, "gold": 2, "silver": 1}
SCREENSHOTS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def a_manager_with_a_backlog() -> AccountManager:
    """150 overdue items (1–15 days late, tiers and kinds in turn) and, for the other tabs, cards, retention cases,
    plans and work logs, notifications. Dates from the real today: the live server runs on the real clock."""
    today = timezone.localdate()
    user = get_user_model().objects.create_user(username="chen", password=PASSWORD, first_name="陈晓燕")
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    manager = AccountManager.objects.create(user=user, employee_no="E150", name="陈晓燕", region=RegionFactory())
    obligations = queue_backlog(manager, on=today, overdue=150)
    gold = Tier.objects.get(code="gold")
    MembershipCard.objects.bulk_create(
        MembershipCard(customer_id=o.customer_id, tier=gold, state="at_maker") for o in obligations[:40]
    )
    now = timezone.now()
    for o in obligations[40:52]:
        retention_services.closure_request(customer=o.customer, reason="tariff", at=now)
    for weeks in range(20):
        ServicePlan.objects.create(
            manager=manager,
            scope="week",
            period_start=today - dt.timedelta(days=today.weekday() + 7 * weeks),
            content="拜访 3 位钻石卡会员，回访 20 位金卡会员。",
        )
    for days in range(14):
        WorkLog.objects.create(
            manager=manager, date=today - dt.timedelta(days=days), content="回访 12 位会员，2 位未接通。"
        )
    for days in range(30):
        Notification.objects.create(
            user=user, kind=f"notice{days}", text=f"今日逾期 {150 - days} 项", day=today - dt.timedelta(days=days)
        )
    return manager


def queue_items(page) -> list[dict]:
    return page.locator("#queue li.qi").evaluate_all(
        "rows => rows.map(r => ({id: +r.dataset.obligation, late: +r.dataset.daysLate, tier: r.dataset.tier}))"
    )


def page_height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def test_the_queue_on_a_phone_with_150_overdue(live_server, browser, artifacts):
    # given: a manager with 150 overdue items, on a phone in Chinese
    a_manager_with_a_backlog()
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
        page.fill("input[name=username]", "chen")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        expect(page).to_have_url(f"{live_server.url}/dashboard/")

        # then: the header says 150 (no silent cap), the first screen is the queue, the page under 4 screens
        expect(page.locator("h1")).to_have_text("工作队列")
        expect(page.locator("#count-overdue .num")).to_have_text("150")
        expect(page.locator('[data-tab="queue"] .tab-count')).to_have_text("150")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "desk-queue-zh-hans.png"))
        page.screenshot(path=str(artifacts / "desk-queue-zh-hans-full.png"), full_page=True)
        first = page.locator("#queue li.qi").first
        box = first.bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], box  # the first item whole on the first screen
        expect(first.locator("a.call")).to_have_attribute(
            "href", f"tel:{Obligation.objects.get(pk=queue_items(page)[0]['id']).customer.msisdn}"
        )
        assert page_height(page) < SCREENS * PHONE["height"], page_height(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # and: the order on the first page: days late, then tier
        rows = queue_items(page)
        keys = [(-r["late"], -RANK[r["tier"]]) for r in rows]
        assert keys == sorted(keys) and rows[0]["late"] == 15 and rows[0]["tier"] == "diamond"

        # when: paging to the last page
        page.locator('a[rel="last"]').click()
        # then: the 141st to the 150th, the least late last
        expect(page.locator(".desk-pager .where")).to_contain_text("141–150")
        last = queue_items(page)
        assert len(last) == 10 and last[-1]["late"] == 1
        expect(page.locator("#count-overdue .num")).to_have_text("150")
        page.locator('a[rel="first"]').click()
        expect(page.locator(".desk-pager .where")).to_contain_text("1–10")

        # when: one tap on "已接通" on the first item
        target = queue_items(page)[0]["id"]
        row = page.locator(f"#ob-{target}")
        row.get_by_role("button", name="已接通").click()
        # then: it leaves the queue, the count says 149, and an undo is offered
        expect(row).to_have_count(0)
        expect(page.locator("#count-overdue .num")).to_have_text("149")
        expect(page.locator('[data-tab="queue"] .tab-count')).to_have_text("149")
        undo = page.locator("#undo")
        expect(undo).to_be_visible()
        page.screenshot(path=str(artifacts / "desk-queue-after-tap.png"))
        assert Obligation.objects.get(pk=target).status == "done"

        # when: "撤销" within 10 seconds
        undo.get_by_role("button", name="撤销").click()
        # then: it is back, first again, with its obligation open (overdue) again and the log gone
        expect(page.locator(f"#ob-{target}")).to_have_count(1)
        expect(page.locator("#count-overdue .num")).to_have_text("150")
        expect(page.locator("#flash")).to_contain_text("撤销")
        obligation = Obligation.objects.get(pk=target)
        assert (obligation.status, obligation.done_by_id) == ("overdue", None)
        assert not ContactLog.objects.filter(customer_id=obligation.customer_id).exists()
        assert queue_items(page)[0]["id"] == target

        # when: the notifications badge
        unread = Notification.objects.filter(user__username="chen", read_at__isnull=True).count()
        assert unread == 30 + 12  # 30 digests and the 12 retention cases' notices
        expect(page.locator("#bell .badge")).to_have_text(str(unread))
        page.locator("#bell").click()
        # then: the inbox, and opening a notification marks it read
        expect(page).to_have_url(f"{live_server.url}/dashboard/notifications/")
        expect(page.locator("#inbox li.note.unread")).to_have_count(15)
        page.locator("#inbox li.note").first.locator("button.note-open").click()
        expect(page.locator("#bell .badge")).to_have_text(str(unread - 1))

        # and: every desk page is under 4 screens tall before paging
        heights = {}
        for url in (
            "/dashboard/",
            "/dashboard/customers/",
            "/dashboard/retention/",
            "/dashboard/risk/",
            "/dashboard/birthdays/",
            "/dashboard/cards/",
            "/dashboard/plans/",
            "/dashboard/notifications/",
        ):
            page.goto(f"{live_server.url}{url}")
            heights[url] = page_height(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
        print("desk page heights (px, phone):", heights)
        assert all(h < SCREENS * PHONE["height"] for h in heights.values()), heights
        page.goto(f"{live_server.url}/dashboard/retention/")
        expect(page.locator("#retention-cases-h .count")).to_have_text("12")  # all of them, 8 on this page
        expect(page.locator("#retention-cases li.case")).to_have_count(8)
        page.screenshot(path=str(artifacts / "desk-retention-zh-hans.png"), full_page=True)
    finally:
        context.close()
