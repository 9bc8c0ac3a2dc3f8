"""The staff cockpit in a real browser (Chromium, 1366×900, en and zh-hans): a club admin imports 2027's holidays
and the "calendar not loaded" banner goes; a supervisor's cockpit shows her branches only and lets her edit no
policy. Screenshots in tests/artifacts/."""

import datetime as dt

import pytest
import time_machine

from tests.staff_fixtures import PASSWORD, a_club

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}
HOLIDAYS_2027 = (
    "2027-01-01,holiday,元旦\n2027-02-06,workday,春节调休\n2027-02-11,holiday,春节\n2027-02-12,holiday,春节\n"
)


@pytest.fixture(autouse=True)
def club_day():
    with time_machine.travel(NOON):
        yield


def open_as(browser, live_server, username: str, language: str, path: str = "/admin/"):
    context = browser.new_context(
        locale=LOCALES[language], timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    return page


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_admin_imports_2027_and_the_banner_goes(live_server, browser, artifacts, language):
    a_club()
    page = open_as(browser, live_server, "club-admin", language)
    # given the cockpit with next year's calendar not loaded and the banner above it
    expect(page.locator("#cockpit")).to_be_visible()
    expect(page.locator("#calendar-banner-link")).to_be_visible()
    expect(page.locator("#calendar-state")).to_have_class("chip warn")
    no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"cockpit-{language}.png"), full_page=True)
    # when she follows the banner to the import and pastes the list
    page.click("#calendar-banner-link")
    page.fill("textarea[name=lines]", HOLIDAYS_2027)
    page.fill("input[name=year]", "2027")
    page.click("#calendar-import [type=submit]")
    # then January 2027 shows New Year's Day off, the banner is gone, and the cockpit says loaded
    expect(page.locator("#calendar-month")).to_have_text("2027-01")
    expect(page.locator('td[data-date="2027-01-01"]')).to_have_attribute("data-kind", "holiday")
    expect(page.locator("#calendar-banner-link")).to_have_count(0)
    page.screenshot(path=str(artifacts / f"calendar-2027-{language}.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#calendar-banner-link")).to_have_count(0)
    expect(page.locator("#calendar-state")).to_have_class("chip good")


def test_a_bad_line_is_named_in_the_browser(live_server, browser):
    a_club()
    page = open_as(browser, live_server, "club-admin", "en", "/admin/staff/calendar/")
    page.fill("textarea[name=lines]", HOLIDAYS_2027 + "2027-13-01,holiday\n")
    page.fill("input[name=year]", "2027")
    page.click("#calendar-import [type=submit]")
    expect(page.locator("#import-errors")).to_contain_text("Line 5 (2027-13-01,holiday)")
    expect(page.locator("#calendar-banner-link")).to_be_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_supervisor_sees_her_branches_and_edits_no_policy(live_server, browser, artifacts, language):
    a_club()
    page = open_as(browser, live_server, "gz-boss", language)
    # her branch only, in the compliance card and the numbers
    expect(page.locator('#card-compliance tr[data-region="GZ"]')).to_be_visible()
    expect(page.locator('#card-compliance tr[data-region="SZ"]')).to_have_count(0)
    expect(page.locator("#points-liability")).to_have_text("400")
    expect(page.locator("#pending-overrides")).to_have_text("0")
    # no add link beside the policies, tiers, entitlements or targets; no import form on the calendar
    for model in ("ratingpolicy", "tier", "tierentitlement", "churntarget"):
        expect(page.locator(f"#app-groups tr.model-{model} a.addlink")).to_have_count(0)
    no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"cockpit-supervisor-{language}.png"), full_page=True)
    # a policy opened from the cockpit reads, and cannot be saved
    page.click("#app-groups tr.model-ratingpolicy a")
    page.locator("#result_list tbody a").first.click()
    expect(page.locator("input[name=_save]")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/staff/calendar/")
    expect(page.locator("#calendar-import")).to_have_count(0)
