"""Retention on the pages people use: the open cases with quick moves and the risk list on the manager's dashboard,
the team's on the supervisor's page, the admin's churn and tier reports (charts, breach flags, CSV, a supervisor's
branches only), the admin's actions (closure request, moving cases)."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model

from customers.models import BillingMonth
from managers.models import ContactLog, Obligation
from managers.tests.helpers import make_manager, make_supervisor
from retention import services
from retention.models import RetentionCase
from retention.tests.helpers import bills, club_time, member, walk
from tests.retention_fixtures import a_year_of_churn

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return make_manager("E400")


def login(client, user):
    client.force_login(getattr(user, "user", user))
    return client


def a_case(customer, to: str = "open") -> RetentionCase:
    case, _ = services.closure_request(customer=customer, reason="tariff", at=club_time(dt.date(2026, 11, 2)))
    return walk(case, to)


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_the_dashboard_shows_the_open_cases_with_their_next_steps(client, manager):
    opened = a_case(member(manager=manager, name="张三"))
    offered = a_case(member(manager=manager, name="李四"), "offer_made")
    a_case(member(manager=manager, name="王五"), "retained")
    a_case(member(manager=make_manager("E401", region=manager.region), name="别人"))
    html = section(login(client, manager).get("/dashboard/retention/").content.decode(), "retention-cases")
    assert "张三" in html and "李四" in html and "王五" not in html and "别人" not in html
    assert re.search(rf'data-case="{opened.pk}" data-state="open"', html)
    assert 'name="to" value="contacted"' in html
    assert f'data-case="{offered.pk}" data-state="offer_made"' in html
    assert 'value="retained"' in html and 'name="offer"' not in html  # no case can get an offer now
    assert "Tariff" in html


def test_a_quick_move_logs_the_call_and_closes_the_retention_contact(client, manager):
    customer = member(manager=manager)
    case = a_case(customer)
    response = login(client, manager).post(f"/dashboard/retention/cases/{case.pk}/move/", {"to": "contacted"})
    assert response.status_code == 302 and response["Location"].endswith("/dashboard/retention/#retention-cases")
    case.refresh_from_db()
    assert case.state == "contacted" and case.steps.latest("id").actor == manager.user
    assert ContactLog.objects.get(customer=customer).channel == "call"
    assert Obligation.objects.get(customer=customer, kind="retention_contact").status == "done"
    # an offer needs one from the catalog: refused with a message, the case stays
    page = client.post(f"/dashboard/retention/cases/{case.pk}/move/", {"to": "offer_made"}, follow=True)
    assert "Choose an offer from the catalog." in page.content.decode()
    client.post(f"/dashboard/retention/cases/{case.pk}/move/", {"to": "offer_made", "offer": "points_bonus"})
    case.refresh_from_db()
    assert (case.state, case.offer.code) == ("offer_made", "points_bonus")
    # an illegal move says what is possible
    page = client.post(f"/dashboard/retention/cases/{case.pk}/move/", {"to": "churned"}, follow=True)
    assert "Possible: Retained, Considering, Declined." in page.content.decode()


def test_another_managers_case_is_a_404_and_a_supervisor_gets_the_403_page(client, manager):
    boss = get_user_model().objects.create_user(username="boss")
    other = make_manager("E402", region=manager.region, supervisor=boss)
    theirs = a_case(member(manager=other))
    assert (
        login(client, manager).post(f"/dashboard/retention/cases/{theirs.pk}/move/", {"to": "contacted"}).status_code
        == 404
    )
    assert (
        login(client, boss).post(f"/dashboard/retention/cases/{theirs.pk}/move/", {"to": "contacted"}).status_code
        == 403
    )
    theirs.refresh_from_db()
    assert theirs.state == "open"


def at_risk(manager, name: str, before: str, recent: str):
    customer = member(manager=manager, name=name, since=dt.date(2025, 1, 1))
    months = [dt.date(2026, m, 1) for m in range(5, 11)]
    bills(customer, {m: before if m.month < 8 else recent for m in months})
    return customer


def test_the_dashboard_and_the_team_page_show_the_top_of_the_risk_list_with_reasons(client, manager):
    boss = make_supervisor("boss")
    manager.supervisor = boss
    manager.save()
    for month in range(5, 11):
        BillingMonth.objects.create(month=dt.date(2026, month, 1), closed_at=club_time(dt.date(2026, 11, 2)))
    at_risk(manager, "跌了一半", "300.00", "150.00")
    pending = at_risk(manager, "要销户", "100.00", "100.00")
    at_risk(manager, "稳定", "100.00", "100.00")
    a_case(pending)
    services.risk_refresh(on=dt.date(2026, 11, 20))
    html = section(login(client, manager).get("/dashboard/risk/").content.decode(), "risk")
    assert html.index("要销户") < html.index("跌了一半") and "稳定" not in html
    assert "1 closure request" in html and "Spend down 50.0 % (last 3 bills against the 3 before)" in html
    team = section(login(client, boss).get("/dashboard/team/").content.decode(), "team-risk")
    assert "要销户" in team and manager.name in team
    assert "要销户" in section(client.get("/dashboard/team/").content.decode(), "team-retention-cases")


def test_the_retention_tabs_read_in_a_fixed_number_of_queries(client, manager, django_assert_num_queries):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            for url in ("/dashboard/retention/", "/dashboard/risk/"):
                assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    login(client, manager)
    a_case(member(manager=manager))
    services.risk_refresh(on=dt.date(2026, 11, 20))
    few = count()
    for _ in range(6):
        a_case(member(manager=manager), "offer_made")
    services.risk_refresh(on=dt.date(2026, 11, 20))
    assert count() == few


# --- the admin -------------------------------------------------------------------------------------------


@pytest.fixture
def gz_supervisor():
    """The GZ branch's supervisor (staff in the Supervisors group, supervising the GZ manager)."""
    a_year_of_churn()
    from customers.models import Region

    boss = make_supervisor("gz-boss", password="Pw-Secret-123")
    make_manager("E500", region=Region.objects.get(code="GZ"), supervisor=boss)
    return boss


def test_the_churn_report_page_shows_the_chart_and_the_breach_flags(client, gz_supervisor):
    html = login(client, gz_supervisor).get("/admin/retention/churnrecord/report/", {"year": 2026}).content.decode()
    assert 'id="churn-chart"' in html and "<svg" in html and 'class="target"' in html
    assert 'id="breach-summary"' in html and '<span class="breach">Breach</span>' in html
    gold_january = re.search(r'<tr class="series-gold" data-month="2026-01".*?</tr>', html, re.S).group(0)
    assert "25.00 %" in gold_january and "Breach" in gold_january
    # her branch only: the SZ branch is not offered
    assert '<option value="GZ"' in html and '<option value="SZ"' not in html


def test_the_churn_report_exports_csv(client, gz_supervisor):
    response = login(client, gz_supervisor).get("/admin/retention/churnrecord/report/", {"year": 2026, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("month,tier,members,members_previous")
    assert "2026-01,gold,3,4,3.5,1,1,0,25.00,1,25.00,2.00,True" in lines


def test_a_supervisor_cannot_see_another_branch_in_the_reports(client, gz_supervisor, admin_client):
    page = login(client, gz_supervisor).get("/admin/retention/churnrecord/report/", {"region": "SZ"}, follow=True)
    assert "not one of yours" in page.content.decode()
    everything = admin_client.get("/admin/retention/churnrecord/report/").content.decode()
    assert '<option value="SZ"' in everything


def test_the_tier_report_page_and_its_csv(client, gz_supervisor):
    html = login(client, gz_supervisor).get("/admin/retention/churnrecord/tiers/").content.decode()
    assert 'id="tier-region-chart"' in html and 'data-region="GZ" data-members="8"' in html
    assert 'data-region="SZ"' not in html
    csv_lines = client.get("/admin/retention/churnrecord/tiers/", {"month": "2025-12", "format": "csv"}).content
    assert "GZ,广州,gold,4" in csv_lines.decode("utf-8-sig")


def test_the_admin_pages_of_the_app_open(admin_client):
    a_year_of_churn()
    case = RetentionCase.objects.first()
    for url in (
        "/admin/retention/retentioncase/",
        f"/admin/retention/retentioncase/{case.pk}/change/",
        "/admin/retention/churnrecord/",
        "/admin/retention/monthsnapshot/",
        "/admin/retention/riskscore/",
        "/admin/retention/retentionoffer/",
        "/admin/retention/churntarget/",
        "/admin/retention/riskweight/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_the_customer_admin_action_registers_a_closure_request(admin_client, manager):
    customer = member(manager=manager)
    admin_client.post("/admin/customers/customer/", {"action": "request_closure_x", "_selected_action": [customer.pk]})
    case = RetentionCase.objects.get(customer=customer)
    assert case.state == "open" and case.manager == manager


def test_the_admin_moves_cases(admin_client, manager):
    case = a_case(member(manager=manager), "contacted")
    response = admin_client.post(
        "/admin/retention/retentioncase/",
        {
            "action": "move_cases",
            "_selected_action": [case.pk],
            "apply": "1",
            "to": "offer_made",
            "offer": "tier_guarantee",
            "note": "保级",
        },
        follow=True,
    )
    assert "1 cases moved." in response.content.decode()
    case.refresh_from_db()
    assert (case.state, case.offer.code, case.steps.latest("id").note) == ("offer_made", "tier_guarantee", "保级")


def test_the_sections_speak_chinese(client, manager):
    a_case(member(manager=manager), "offer_made")
    html = login(client, manager).get("/dashboard/retention/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "挽留工单" in section(html, "retention-cases") and "已提供方案" in html and "已挽留" in html
    html = client.get("/dashboard/risk/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "风险会员" in section(html, "risk")


def test_the_risk_list_is_refreshed_daily_by_beat():
    from celery import current_app as app  # the project's (vipclub.celery; desk may not import vipclub)

    from retention.tasks import refresh_risk_task, snapshot_month_task

    entry = app.conf.beat_schedule["retention-risk-refresh"]
    assert entry["task"] == refresh_risk_task.name == "retention.refresh_risk"
    assert refresh_risk_task.delay("2026-11-20").get() == {"as_of": "2026-11-20", "at_risk": 0}
    assert snapshot_month_task.delay("2026-10").get() == {"month": "2026-10", "members": 0}
