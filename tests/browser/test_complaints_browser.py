"""A branch supervisor handles an escalated complaint in a real browser: she finds it escalated after its reply
deadline passed (the job's time set by the test), resolves it with 200 points of compensation, and opens the
complaints report with its charts."""

import datetime as dt

import pytest

from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.tests.helpers import assert_ledger_sound, balance
from service import services
from service.factories import club_time, receive

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"
SCREENSHOTS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_supervisor_resolves_an_escalated_complaint_with_compensation(live_server, page):
    # given a complaint received Friday 17:00 by the member's manager, acknowledged, never replied to, and the job run
    # on Monday morning (after the Sunday 17:00 reply deadline)
    boss = make_supervisor("gz-boss", password=PASSWORD)
    manager = make_manager("E701", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000701", name="王女士")
    complaint = receive(member, at=club_time(dt.date(2026, 11, 13), 17), by=manager.user, category="billing")
    services.complaint_transition(
        complaint=complaint, to="acknowledged", at=club_time(dt.date(2026, 11, 13), 18), actor=manager.user
    )
    services.complaints_escalate_late(at=club_time(dt.date(2026, 11, 16), 6))
    # when the supervisor opens the escalated complaints
    page.goto(f"{live_server.url}/admin/login/?next=/admin/service/complaint/%3Fescalated__exact%3D1")
    page.fill("input[name=username]", "gz-boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    # then hers is there, escalated
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("Escalated to the supervisor")
    row.first.locator("th a, td a").first.click()
    # when she replies, then resolves it with 200 points of compensation
    move = page.locator("#complaint-move form")
    move.locator("select[name=to]").select_option("replied")
    move.locator("[type=submit]").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Replied to the customer")
    move = page.locator("#complaint-move form")
    move.locator("select[name=to]").select_option("resolved")
    move.locator("textarea[name=note]").fill("多扣话费已退，致歉")
    move.locator("input[name=compensation_points]").fill("200")
    move.locator("[type=submit]").click()
    # then it is resolved, the 200 points are on the member's account, and the steps show who did what
    expect(page.locator(".messagelist .success")).to_contain_text("Resolved")
    expect(page.locator(".field-compensation_points")).to_contain_text("200")
    expect(page.locator("#steps-group, .inline-group").first).to_contain_text("Compensation posted")
    assert balance(member) == 200
    assert_ledger_sound()
    # when she opens the complaints report from the list
    page.goto(f"{live_server.url}/admin/service/complaint/")
    page.click("text=Complaints report")
    page.select_option("select[name=year]", "2026")
    page.click(".report-filters button[type=submit]")
    # then both charts are drawn, with November's complaint
    expect(page.locator("#rates-chart svg")).to_be_visible()
    expect(page.locator('#volume-chart g.month[data-month="2026-11"]')).to_have_attribute("data-total", "1")
    expect(page.locator('#kpi-table tr[data-month="2026-11"]')).to_contain_text("100.0 %")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "complaints-report.png"), full_page=True)
