"""Complaints from the desk in a real browser (issue 19 item 1's "done when"): a manager logs a member's complaint
from the customer page on her phone (390×844, zh-hans); the time passes (the escalation job run by the test with
`escalate_complaints --at`); her supervisor sees it escalated on her team page and resolves it with 200 points of
compensation; the member's points show them. Screenshot: docs/screenshots/complaint-desk-zh-hans.png."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.tests.helpers import assert_ledger_sound, balance
from service.models import Complaint

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
BOSS_PASSWORD = "Browser-pass-19"
MANAGER_PASSWORD = "pw-Secret-123"  # managers.tests.helpers.make_manager's
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()


def zh_context(browser, viewport, **extra):
    return browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **extra)


def test_a_complaint_logged_on_a_phone_escalates_and_the_supervisor_resolves_it_with_points(live_server, browser):
    # given a gold member with no points, her manager, and the manager's supervisor
    boss = make_supervisor("gz-boss", password=BOSS_PASSWORD)
    manager = make_manager("E719", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000719", name="王芳")
    assert balance(member) == 0

    phone_context = zh_context(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        # when the manager, on her phone, logs a complaint from the member's page
        phone = phone_context.new_page()
        login(phone, live_server.url, manager.user.username, MANAGER_PASSWORD)
        phone.goto(f"{live_server.url}/dashboard/customers/{member.msisdn}/")
        expect(phone.locator("html")).to_have_attribute("lang", "zh-hans")
        panel = phone.locator("#complaints")
        panel.locator("details.log-complaint summary").click()
        panel.locator("select[name=complaint-category]").select_option("network")
        panel.locator("textarea[name=complaint-text]").fill("家里和办公室信号都很差，打电话经常断线")
        panel.locator("#complaint-form button[type=submit]").click()
        # then it is on her page, received, with its acknowledge deadline, and she owns it
        complaint = Complaint.objects.get()
        row = phone.locator(f"#complaints [data-complaint='{complaint.pk}']")
        expect(row).to_have_attribute("data-state", "received")
        expect(row).to_contain_text(timezone.localtime(complaint.ack_due_at).strftime("%m-%d %H:%M"))
        assert complaint.owner == manager.user and complaint.channel == "manager"
        # every field of the form has a label, and nothing is wider than the phone
        unlabelled = phone.evaluate(
            """() => [...document.querySelectorAll('#complaints input, #complaints select, #complaints textarea')]
                 .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.outerHTML)"""
        )
        assert unlabelled == [], unlabelled
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel.scroll_into_view_if_needed()
        phone.screenshot(path=str(SCREENSHOTS / "complaint-desk-zh-hans.png"))
    finally:
        phone_context.close()

    # when three hours pass without an acknowledgement and the escalation job runs (its time set by the test)
    late = timezone.localtime(complaint.received_at + dt.timedelta(hours=3))
    call_command("escalate_complaints", at=late.isoformat())
    complaint.refresh_from_db()
    assert complaint.state == "escalated"

    desk_context = zh_context(browser, DESKTOP)
    try:
        # then her supervisor sees it escalated on her team page
        desk = desk_context.new_page()
        login(desk, live_server.url, "gz-boss", BOSS_PASSWORD)
        desk.goto(f"{live_server.url}/dashboard/team/")
        team_row = desk.locator(f"#team-complaints [data-complaint='{complaint.pk}']")
        expect(team_row).to_have_attribute("data-state", "escalated")
        expect(team_row.locator(".late-badge")).to_be_visible()
        # when she opens it and resolves it with 200 points of compensation
        team_row.locator("a.who").click()
        form = desk.locator("#complaint-move-form")
        form.locator("select[name=to]").select_option("resolved")
        form.locator("textarea[name=note]").fill("已上门检测并调整基站，向客户致歉")
        form.locator("input[name=points]").fill("200")
        form.locator("button[type=submit]").click()
        # then it is resolved with its compensation, and it left her team's late list
        expect(desk.locator("#complaint-state")).to_have_text("已解决")
        expect(desk.locator("#compensation")).to_contain_text("200")
        desk.goto(f"{live_server.url}/dashboard/team/")
        expect(desk.locator(f"#team-complaints [data-complaint='{complaint.pk}']")).to_have_count(0)
        # and the member's points balance shows the 200 points
        desk.goto(f"{live_server.url}/dashboard/customers/{member.msisdn}/")
        expect(desk.locator("#points-h .count")).to_have_text("200")
        desk.screenshot(path=str(SCREENSHOTS / "complaint-resolved-zh-hans.png"), full_page=True)
        assert balance(member) == 200
        assert_ledger_sound()
    finally:
        desk_context.close()
