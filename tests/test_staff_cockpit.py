"""The staff cockpit (the admin's home page), the reports menu and the reports it adds (issue 16, item 1): what a
club admin and a branch supervisor see, each number's link, the CSV exports, the query counts."""

import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import IdempotencyRecord
from customers.models import Customer, Region
from tests.staff_fixtures import TODAY, a_branch, a_club
from tiers.factories import TierChangeFactory
from tiers.models import Tier, TierChange

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(autouse=True)
def club_day():
    with time_machine.travel(NOON, tick=False):
        yield


def text_of(response) -> str:
    html = response.content.decode()
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_admin_home_is_the_cockpit_with_every_branch(client):
    # given a club of two branches
    admin, _boss = a_club()
    client.force_login(admin)
    # when the club admin opens the admin
    response = client.get("/admin/")
    # then she meets the cockpit, not the model list: both branches, the pending override, the points owed
    assert response.status_code == 200
    html = response.content.decode()
    assert "Club cockpit" in html
    assert 'data-region="GZ"' in html and 'data-region="SZ"' in html
    assert re.search(r'id="pending-overrides">1<', html)
    # 2×100 + 3×1000 expiring this year, as much in 2028
    assert re.search(r'id="points-liability">6,400<', html)
    assert re.search(r'id="points-expiring">3,200<', html)
    # next year's calendar is not loaded
    assert re.search(r'id="calendar-state">Not loaded<', html)
    # churn year to date against the targets, with the breach flag (the churn fixture breaches in gold)
    assert 'data-series="gold"' in html and "breach-flag" in html


def test_technical_models_sit_under_system_below_the_cockpit(client):
    admin, _boss = a_club()
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    cockpit_at, groups_at, system_at = (
        html.index('id="cockpit"'),
        html.index('id="app-groups"'),
        html.index('id="system-group"'),
    )
    assert cockpit_at < groups_at < system_at
    system = html[system_at:]
    for model in ("idempotencyrecord", "jobheartbeat", "inboundevent"):
        assert f"model-{model}" in system
        assert f"model-{model}" not in html[groups_at:system_at]
    assert "model-customer" in html[groups_at:system_at]


def test_a_supervisor_sees_her_branches_numbers_only(client):
    # given the GZ supervisor
    _admin, boss = a_club()
    client.force_login(boss)
    # when she opens the admin
    response = client.get("/admin/")
    # then the numbers are GZ's: no SZ row, SZ's override and points not counted
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-region="GZ"' in html and 'data-region="SZ"' not in html
    assert re.search(r'id="pending-overrides">0<', html)
    assert re.search(r'id="points-liability">400<', html)
    assert "your branches" in html
    # and nothing on the page edits a policy, a tier or an entitlement
    for model in ("ratingpolicy", "tier", "tierentitlement", "churntarget"):
        row = re.search(rf'<tr class="model-{model}">.*?</tr>', html)
        assert row is None or "addlink" not in row.group(0)


def test_numbers_link_to_the_lists_behind_them(client):
    admin, _boss = a_club()
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    links = set(re.findall(r'href="(/admin/[^"#]+\?[^"]+)"', html))
    assert 'href="/admin/approvals/" id="pending-overrides"' in html
    assert any("customers/customer/?tier=gold" in link for link in links)
    assert any("managers/obligation/?status__exact=overdue" in link for link in links)
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        # a filter the admin does not allow redirects to ?e=1; a bad date 400s
        assert response.status_code == 200, link


def cockpit_queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/").status_code == 200
    return len(queries)


@pytest.mark.parametrize(("who", "pinned"), [("admin", 27), ("supervisor", 32)])
def test_the_cockpit_costs_the_same_queries_whatever_the_club_size(client, who, pinned, django_assert_max_num_queries):
    # given a club, measured
    admin, boss = a_club()
    user = admin if who == "admin" else boss
    small = cockpit_queries(client, user)
    # when each branch grows by more members, points and overdue obligations
    from customers.models import Region
    from managers.models import AccountManager

    for code in ("GZ", "SZ"):
        manager = AccountManager.objects.filter(region__code=code).first()
        a_branch(Region.objects.get(code=code), manager, members=6, points=10, overdue=3)
    # then the cockpit costs exactly as many queries, and no more than the pinned count
    assert cockpit_queries(client, user) == small
    client.force_login(user)
    with django_assert_max_num_queries(pinned):
        client.get("/admin/")


# --- the reports menu and the reports it adds ------------------------------------------------------------------


def test_the_reports_menu_links_every_report(client):
    admin, _boss = a_club()
    client.force_login(admin)
    response = client.get("/admin/staff/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    keys = re.findall(r'data-report="([a-z]+)"', html)
    assert keys == ["churn", "tiers", "migration", "usage", "compliance", "points", "activities", "satisfaction"]
    for url in re.findall(r'<li data-report="[a-z]+"><a href="([^"]+)"', html):
        assert client.get(url).status_code == 200, url
    # the header of every admin page links the menu
    assert 'href="/admin/staff/reports/"' in client.get("/admin/customers/customer/").content.decode()


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_compliance_per_branch_with_csv_and_drill_down(client):
    admin, boss = a_club()
    client.force_login(admin)
    html = client.get("/admin/staff/reports/compliance/?month=2026-12").content.decode()
    gz = re.search(r'<tr data-region="GZ">.*?</tr>', html).group(0)
    overdue_link = re.findall(r'href="([^"]+)"', gz)[-1].replace("&amp;", "&")
    assert client.get(overdue_link).status_code == 200
    rows = {r["region"]: r for r in csv_rows(client.get("/admin/staff/reports/compliance/?month=2026-12&format=csv"))}
    assert rows["GZ"]["overdue_now"] == "1" and rows["SZ"]["overdue_now"] == "2"
    assert rows["SZ"]["due"] == "2" and rows["SZ"]["done_on_time"] == "0" and rows["SZ"]["compliance_percent"] == "0.0"
    # the supervisor's export holds her branch only
    client.force_login(boss)
    rows = csv_rows(client.get("/admin/staff/reports/compliance/?format=csv"))
    assert [r["region"] for r in rows] == ["GZ"]


def test_compliance_names_a_bad_month(client):
    admin, _boss = a_club()
    client.force_login(admin)
    response = client.get("/admin/staff/reports/compliance/?month=2026-13")
    assert response.status_code == 200
    assert "'2026-13' is not a month in the form YYYY-MM." in text_of(response)


def test_points_liability_and_expiry_forecast(client):
    admin, boss = a_club()
    client.force_login(admin)
    response = client.get("/admin/staff/reports/points/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "expire 2026-12-31" in html and "expire 2028-12-31" in html
    assert re.search(
        r"points_pointslot/\?expires_on__year=2028&amp;remaining__gt=0\">3,200<",
        html.replace("/points/pointslot", "points_pointslot"),
    )
    rows = csv_rows(client.get("/admin/staff/reports/points/?format=csv"))
    assert {(r["region"], r["expires_on"], r["points"], r["customers"]) for r in rows} == {
        ("GZ", "2026-12-31", "200", "2"),
        ("GZ", "2028-12-31", "200", "2"),
        ("SZ", "2026-12-31", "3000", "3"),
        ("SZ", "2028-12-31", "3000", "3"),
    }
    client.force_login(boss)
    rows = csv_rows(client.get("/admin/staff/reports/points/?format=csv"))
    assert {r["region"] for r in rows} == {"GZ"}


def test_the_migration_matrix_of_a_month(client):
    # given the churn fixture's tier history: 11 members joined (10 in December 2025), 3 left in 2026
    admin, boss = a_club()
    client.force_login(admin)
    # when the admin asks for January 2026's changes
    response = client.get("/admin/staff/reports/migration/?month=2026-01")
    assert response.status_code == 200
    html = response.content.decode()
    expected = TierChange.objects.filter(effective_on__year=2026, effective_on__month=1).count()
    assert re.search(rf'id="migration-total">{expected}<', html)
    # then every number links to the changes behind it, and the links hold
    for link in re.findall(r'<td class="n [a-z]+" data-to="[a-z]+"><a href="([^"]+)"', html):
        assert client.get(link.replace("&amp;", "&")).status_code == 200, link
    rows = csv_rows(client.get("/admin/staff/reports/migration/?month=2026-01&format=csv"))
    assert sum(int(r["members"]) for r in rows) == expected
    gold_left = TierChange.objects.filter(
        effective_on__year=2026, effective_on__month=1, from_tier=Tier.objects.get(code="gold"), to_tier=None
    ).count()
    assert {"from_tier": "gold", "to_tier": "none", "members": str(gold_left)} in rows
    # the supervisor's matrix counts her branch's changes only
    gz, sz = (Customer.objects.filter(region__code=code).first() for code in ("GZ", "SZ"))
    TierChangeFactory(
        customer=gz, came_from="gold", to="diamond", transition="upgraded", effective_on=dt.date(2026, 9, 1)
    )
    TierChangeFactory(
        customer=sz, came_from="gold", to="silver", transition="downgraded", effective_on=dt.date(2026, 9, 1)
    )
    client.force_login(boss)
    rows = csv_rows(client.get("/admin/staff/reports/migration/?format=csv&month=2026-09"))
    assert [(r["from_tier"], r["to_tier"]) for r in rows if r["members"] != "0"] == [("gold", "diamond")]


def test_reports_refuse_staff_without_the_view_permission(client, django_user_model):
    a_club()
    clerk = django_user_model.objects.create_user(username="clerk", password="x-Strong-pass-1", is_staff=True)
    client.force_login(clerk)
    for url in ("/admin/staff/reports/compliance/", "/admin/staff/reports/points/", "/admin/staff/reports/migration/"):
        assert client.get(url).status_code == 403
    assert "No report is open to you." in text_of(client.get("/admin/staff/reports/"))


def test_the_cockpit_needs_a_staff_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert IdempotencyRecord.objects.count() == 0
    assert TODAY.year == 2026


def test_the_tier_report_links_each_number_to_the_customers(client):
    admin, _boss = a_club()
    client.force_login(admin)
    html = client.get("/admin/retention/churnrecord/tiers/").content.decode()
    sz = re.search(r'<tr data-region="SZ">.*?</tr>', html).group(0)
    link = re.search(r'href="([^"]*tier=gold[^"]*)">3<', sz).group(1).replace("&amp;", "&")
    page = client.get(link)
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3


def test_the_benefit_usage_report_exports_csv(client):
    admin, _boss = a_club()
    client.force_login(admin)
    page = client.get("/admin/benefits/benefit/usage/?year=2026").content.decode()
    assert "format=csv" in page
    response = client.get("/admin/benefits/benefit/usage/?year=2026&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode("utf-8-sig").splitlines()[0] == "month,benefit,tier,redemptions,used"


def test_the_app_list_starts_with_the_staffs_apps_and_no_page_has_a_sidebar(client):
    admin, _boss = a_club()
    client.force_login(admin)
    # the sidebar is off everywhere (wide lists fit 1366 px); the home page lists the apps, the staff's first
    assert 'id="nav-sidebar"' not in client.get("/admin/customers/customer/").content.decode()
    html = client.get("/admin/").content.decode()
    apps = re.findall(r'class="app-([a-z_]+) module', html)
    assert apps[:6] == ["customers", "tiers", "benefits", "points", "managers", "retention"]
    assert "axes" not in apps and "core" not in apps  # the technical ones are folded under "System", last


def test_a_supervisors_benefit_usage_counts_her_branches_redemptions_only(client):
    from django.utils import timezone

    from benefits import services as benefit_services
    from benefits.models import Benefit
    from benefits.tests.helpers import ON, member

    # given a lounge visit in GZ and two in SZ
    _admin, boss = a_club()
    lounge = Benefit.objects.get(code="lounge_airport")
    for code, visits in (("GZ", 1), ("SZ", 2)):
        for _ in range(visits):
            person = member("gold")
            Customer.objects.filter(pk=person.pk).update(region=Region.objects.get(code=code))
            benefit_services.benefit_redeem(customer=person, benefit=lounge, reference="r", on=ON, at=timezone.now())
    # when the GZ supervisor exports the usage of 2026
    client.force_login(boss)
    rows = csv_rows(client.get("/admin/benefits/benefit/usage/?year=2026&format=csv"))
    # then she counts GZ's visit only
    assert [(r["benefit"], r["redemptions"]) for r in rows] == [("lounge_airport", "1")]
