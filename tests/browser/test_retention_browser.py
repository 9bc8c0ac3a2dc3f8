"""A branch supervisor opens the churn report in a real browser: the server-drawn chart and the breach flags."""

import pytest

from customers.models import Region
from managers.tests.helpers import make_manager, make_supervisor
from tests.retention_fixtures import a_year_of_churn

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"


def a_gz_supervisor():
    a_year_of_churn()
    boss = make_supervisor("gz-boss", password=PASSWORD)
    make_manager("E700", region=Region.objects.get(code="GZ"), supervisor=boss)
    return boss


def test_the_supervisor_sees_the_churn_chart_and_the_breach_flag(live_server, page, artifacts):
    a_gz_supervisor()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/retention/churnrecord/report/%3Fyear%3D2026")
    page.fill("input[name=username]", "gz-boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    # the chart: one line per series, the dashed targets, a marker on each month in breach
    chart = page.locator("#churn-chart svg")
    expect(chart).to_be_visible()
    expect(chart.locator("g.target-line")).to_have_count(2)  # 2 % (diamond, gold) and 3.5 %
    expect(chart.locator("circle.breach").first).to_be_visible()
    # the breach flag, above the chart and on January's gold row (1 of 4 gold members left: 25 % ≥ 2 %)
    expect(page.locator("#breach-summary .breach")).to_have_text("Breach")
    gold_january = page.locator('tr[data-month="2026-01"][data-series="gold"]')
    expect(gold_january.locator(".breach")).to_be_visible()
    expect(gold_january.locator("td.rate")).to_have_text("25.00 %")
    # her branch only
    expect(page.locator("select[name=region] option")).to_have_count(1)
    page.screenshot(path=str(artifacts / "churn-report.png"), full_page=True)
