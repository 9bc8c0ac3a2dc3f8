"""The account manager's morning, in a real browser: log in, see what is overdue, log a contact with one tap
(htmx: the row leaves the list without a page reload), switch to Chinese; desktop and phone screenshots."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import CustomerFactory, RegionFactory
from managers.models import (
    AccountManager,
    Assignment,
    ContactLog,
    MembershipCard,
    Notification,
    Obligation,
    ServicePlan,
)
from managers.tests.helpers import make_supervisor
from tiers.models import CustomerTier, Tier

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # pytest-playwright 0.10's own base_url fixture, not ours
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"
PHONE = {"width": 390, "height": 844}


def a_managers_morning() -> tuple[AccountManager, Obligation]:
    """A manager with two overdue contacts, one due today, one this week, a birthday, a new member and a card.
    Dates are relative to the real today: the live server runs on the real clock."""
    today = timezone.localdate()
    region = RegionFactory()
    user = get_user_model().objects.create_user(username="wang", password=PASSWORD, first_name="王丽")
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    manager = AccountManager.objects.create(user=user, employee_no="E001", name="王丽", region=region)
    tiers = {t.code: t for t in Tier.objects.all()}

    def member(name, msisdn, tier="gold", birthday=dt.date(1985, 1, 20), started_on=dt.date(2025, 1, 6)):
        customer = CustomerFactory(region=region, name=name, msisdn=msisdn, birthday=birthday)
        CustomerTier.objects.create(customer=customer, tier=tiers[tier], source="score", since=started_on)
        Assignment.objects.create(customer=customer, manager=manager, started_on=started_on, reason="new_member")
        return customer

    def due(customer, kind, days, status="open"):
        return Obligation.objects.create(
            customer=customer,
            manager=manager,
            kind=kind,
            period=f"d{days}",
            opened_on=today - dt.timedelta(30),
            due_on=today + dt.timedelta(days),
            status=status,
        )

    zhang = member("张三", "13812345678", "diamond")
    target = due(zhang, "periodic_contact", -3, "overdue")
    due(member("李四", "13912345670"), "first_contact", -1, "overdue")
    due(member("赵敏", "13712345671", "silver"), "periodic_contact", 0)
    due(member("钱伟", "13612345672"), "routine_sms", 1 if today.weekday() < 6 else 0)
    member("孙丽", "13512345673", "silver", birthday=(today + dt.timedelta(days=2)).replace(year=1990))
    newcomer = member("周杰", "13412345674", started_on=today.replace(day=1))
    MembershipCard.objects.create(customer=newcomer, tier=tiers["gold"], state="at_maker")
    Notification.objects.create(user=user, kind="overdue", text="2 overdue", day=today)
    return manager, target


def log_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(f"{base_url}/dashboard/")  # via the home page, which sends managers here


def test_manager_logs_a_contact_in_one_tap_and_switches_to_chinese(live_server, browser, page, artifacts):
    # given: a manager with an overdue contact, logged in through the login page
    manager, target = a_managers_morning()
    log_in(page, live_server.url)
    overdue = page.locator("#queue")
    row = overdue.locator(f"#ob-{target.pk}")
    expect(row).to_contain_text("张三")
    expect(row.locator("a.call")).to_have_attribute("href", "tel:13812345678")
    expect(row).to_have_class(re.compile(r"\blate\b"))
    expect(page.locator("#count-overdue .num")).to_have_text("2")
    page.screenshot(path=str(artifacts / "dashboard-desktop-before.png"), full_page=True)

    # when: one tap on "reached" (a marker on window survives only if the page is not reloaded)
    page.evaluate("window.__noReload = 'still-here'")
    url_before = page.url
    row.get_by_role("button", name="Reached").click()

    # then: the row leaves the overdue list, the figures update, and the page was not reloaded
    expect(row).to_have_count(0)
    expect(page.locator("#undo")).to_contain_text("Contact with 张三 logged; 1 obligation closed.")
    expect(page.locator("#count-overdue .num")).to_have_text("1")
    expect(overdue).to_contain_text("李四")
    assert page.evaluate("window.__noReload") == "still-here"
    assert page.url == url_before
    target.refresh_from_db()
    assert target.status == "done"
    assert ContactLog.objects.get(customer=target.customer).source == "dashboard"
    page.screenshot(path=str(artifacts / "dashboard-desktop.png"), full_page=True)

    # when: a tap on a member who was just taken off her list (the server refuses with 404)
    lisi = overdue.locator("li.qi", has_text="李四")
    Assignment.objects.filter(customer__name="李四").update(ended_on=timezone.localdate(), end_reason="reassigned")
    lisi.get_by_role("button", name="No answer").click()

    # then: she is told, nothing was logged, and the page stays as it was
    expect(page.locator("#flash .msg.error")).to_contain_text("nothing was logged")
    expect(lisi).to_have_count(1)
    assert not ContactLog.objects.filter(customer__name="李四").exists()

    # when: the language switch of the header, to Chinese
    page.locator("form.lang-switch button[value=zh-hans]").click()

    # then
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("工作队列")
    expect(page.locator("#section-0 h2")).to_contain_text("逾期")
    expect(page.locator("#queue")).to_contain_text("首次联系")
    expect(page.get_by_role("button", name="已接通").first).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-zh-desktop.png"), full_page=True)

    # and on a phone (390×844), the same session: one column, large tap targets
    phone_context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        storage_state=page.context.storage_state(),
    )
    try:
        look_at_it_on_a_phone(phone_context.new_page(), live_server.url, artifacts)
    finally:
        phone_context.close()


def look_at_it_on_a_phone(phone, base_url, artifacts) -> None:
    phone.goto(f"{base_url}/dashboard/")
    expect(phone.locator("h1")).to_have_text("工作队列")
    button = phone.locator("#queue form.qi-log button[name=result]").first
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 80, box  # three outcomes a row on a phone
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sticks out sideways
    phone.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)
    phone.screenshot(path=str(artifacts / "dashboard-phone-viewport.png"))


def test_customer_pages_and_the_supervisors_review(live_server, browser, page, artifacts):
    # given: the same morning, and a supervisor over the manager
    manager, _target = a_managers_morning()
    boss = make_supervisor("boss", password=PASSWORD, first_name="陈主管")
    manager.supervisor = boss
    manager.save()
    log_in(page, live_server.url)

    # when: the manager searches her customers and opens one
    page.get_by_role("link", name="My customers").click()
    page.fill("input[name=q]", "张")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".cust-row")).to_have_count(1)
    page.screenshot(path=str(artifacts / "customers-desktop.png"), full_page=True)
    page.locator(".cust-row").first.click()

    # then: the customer page has the tier, the open obligation, and the card can be started
    expect(page.locator("h1")).to_have_text("张三")
    expect(page.locator("#tier")).to_contain_text("Diamond")
    expect(page.locator("#open")).to_contain_text("Periodic contact")
    page.get_by_role("button", name="Start a membership card").click()
    expect(page.locator("#card")).to_contain_text("Collecting data")
    page.screenshot(path=str(artifacts / "customer-desktop.png"), full_page=True)

    # when: she submits this week's plan and writes her work log
    page.get_by_role("link", name="Plans & log").click()
    page.select_option("select[name=scope]", "week")
    page.fill("#plans textarea[name=content]", "拜访 3 位钻石卡会员")
    page.get_by_role("button", name="Submit to my supervisor").click()
    expect(page.locator("ul.messages")).to_contain_text("Plan submitted to your supervisor.")
    page.fill("#worklog textarea[name=content]", "回访 5 位会员，2 位未接通")
    page.get_by_role("button", name="Save the work log").click()
    expect(page.locator("#worklog .plan-list")).to_contain_text("回访 5 位会员")
    page.screenshot(path=str(artifacts / "plans-desktop.png"), full_page=True)
    plan = ServicePlan.objects.get(manager=manager)
    assert plan.status == "submitted" and plan.period_start.weekday() == 0

    # when: the supervisor logs in and approves the plan
    supervisor = browser.new_context(locale="en-US", viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        boss_page = supervisor.new_page()
        boss_page.goto(f"{live_server.url}/accounts/login/")
        boss_page.fill("input[name=username]", "boss")
        boss_page.fill("input[name=password]", PASSWORD)
        boss_page.click("form.login button[type=submit]")
        expect(boss_page).to_have_url(f"{live_server.url}/dashboard/team/")
        row = boss_page.locator('tr[data-manager="E001"]')
        expect(row.locator(".overdue")).to_have_text("2")
        expect(row.locator(".members")).to_have_text("6")
        boss_page.screenshot(path=str(artifacts / "team-phone.png"), full_page=True)
        boss_page.locator(f'[data-plan="{plan.pk}"]').get_by_role("button", name="Approve").click()
        expect(boss_page.locator("#reviews")).to_contain_text("No plan waits for your review.")
    finally:
        supervisor.close()

    # then
    plan.refresh_from_db()
    assert plan.status == "approved" and plan.reviewed_by == boss
