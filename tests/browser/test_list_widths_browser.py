"""Every admin list fits a 1366 px screen (issue 16 item 7), in English and in Chinese: on a small seeded demo club,
as a club admin, no list scrolls sideways (neither the page nor the list's table), and the rating runs' counts are
chips that do not wrap one character per line."""

import io
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"
SCREEN = {"width": 1366, "height": 900}
OVERFLOW = """() => {
  const page = document.documentElement.scrollWidth - window.innerWidth;
  const results = document.querySelector('#changelist .results');
  const table = results ? results.scrollWidth - results.clientWidth : 0;
  return {page, table};
}"""


def seeded_club(tmp_path) -> None:
    with override_settings(VAR_DIR=tmp_path):
        call_command("seed_demo", "--customers=20", "--as-of=2026-11-20", stdout=io.StringIO())
    get_user_model().objects.create_superuser(username="boss", password=PASSWORD)


def changelists() -> list[str]:
    return [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_list_fits_1366_px(live_server, browser, tmp_path, artifacts, language):
    # given a small demo club and a club admin at 1366×900 in the language
    seeded_club(tmp_path)
    context = browser.new_context(
        viewport=SCREEN, locale="zh-CN" if language == "zh-hans" else "en-US", timezone_id="Asia/Shanghai"
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/$"))
        context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

        # when she opens every list, then none scrolls sideways
        wide = {}
        for url in changelists():
            page.goto(f"{live_server.url}{url}")
            overflow = page.evaluate(OVERFLOW)
            if overflow["page"] > 0 or overflow["table"] > 0:
                wide[url] = overflow
                page.screenshot(path=str(artifacts / f"wide-{language}-{url.strip('/').replace('/', '-')}.png"))
        assert not wide, f"lists wider than 1366 px ({language}): {wide}"

        # and the rating runs' counts are chips on one line each, never a column of single characters
        page.goto(f"{live_server.url}/admin/tiers/ratingrun/")
        chips = page.locator("td.field-counts_col .chip")
        assert chips.count() > 0
        heights = chips.evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
        line = page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('td.field-counts_col .chip')).lineHeight) || 20"
        )
        assert max(heights) < 2 * line, heights
        page.screenshot(path=str(artifacts / f"rating-runs-{language}.png"))
    finally:
        context.close()
