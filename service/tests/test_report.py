"""The complaints KPIs and report (DOMAIN §9): per month and branch, in the admin (SVG charts, CSV) in both languages
and through the API."""

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from managers.tests.helpers import make_manager, make_member, make_supervisor
from service import selectors, services
from service.factories import club_time, receive

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2026, 11, 13)
AT = club_time(dt.date(2026, 11, 30), 12)


@pytest.fixture
def complaints():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001")
    other = make_member(tier="silver", manager=manager, msisdn="13900000002")
    # acknowledged and replied on time, resolved on time
    on_time = receive(member, at=club_time(FRIDAY, 9), by=manager.user, category="billing")
    for to, hour in (("acknowledged", 10), ("replied", 12), ("resolved", 15)):
        services.complaint_transition(complaint=on_time, to=to, at=club_time(FRIDAY, hour), actor=None)
    # a repeat within 30 days, acknowledged late, never replied to (late), not resolved (late by the 30th)
    late = receive(member, at=club_time(dt.date(2026, 11, 16), 9), by=manager.user, category="network")
    services.complaint_transition(
        complaint=late, to="acknowledged", at=club_time(dt.date(2026, 11, 16), 13), actor=None
    )
    # another member's, in October
    receive(other, at=club_time(dt.date(2026, 10, 8), 9), by=manager.user, category="network")
    services.complaints_escalate_late(at=AT)
    return boss, manager


def test_kpis_per_month_and_branch(complaints):
    report = selectors.complaint_report(year=2026, at=AT)
    november = next(r for r in report["rows"] if r["month"] == dt.date(2026, 11, 1))
    assert november["received"] == 2 and november["members"] == 2 and november["per_1000"] == 1000
    assert (november["ack_on_time"], november["ack_due"], november["ack_rate"]) == (1, 2, 50.0)
    assert (november["reply_on_time"], november["reply_due"], november["reply_rate"]) == (1, 2, 50.0)
    assert (november["resolve_on_time"], november["resolve_due"]) == (1, 2)
    assert november["repeat"] == 1 and november["escalated"] == 1
    assert dict((code, n) for code, _label, n in report["categories"])["network"] == 2


@pytest.mark.parametrize(
    ("language", "title", "category"), [("en", "Complaints report", "Network"), ("zh-hans", "投诉报表", "网络")]
)
def test_report_renders_with_charts_and_csv_in_both_languages(complaints, language, title, category):
    # given the branch supervisor logged in to the admin
    boss, _manager = complaints
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(boss)
    # when she opens the complaints report, linked from the complaints list
    listing = client.get("/admin/service/complaint/")
    assert listing.status_code == 200 and "/admin/service/complaint/report/" in listing.content.decode()
    page = client.get("/admin/service/complaint/report/", {"year": 2026})
    # then it shows the charts and the KPI table in her language
    html = page.content.decode()
    assert page.status_code == 200
    assert title in html and category in html
    assert 'id="rates-chart"' in html and 'id="volume-chart"' in html and html.count('role="img"') == 2
    assert 'data-month="2026-11" data-total="2"' in html and "<polyline" in html
    assert 'data-region="GZ" data-month="2026-11"' in html
    # and its CSV has a row per month and branch
    response = client.get("/admin/service/complaint/report/", {"year": 2026, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["month", "region", "region_name", "received"]
    assert [r[:4] for r in rows[1:3]] == [["2026-10", "GZ", "广州", "1"], ["2026-11", "GZ", "广州", "2"]]


def test_report_api_for_the_supervisor(complaints):
    from rest_framework.test import APIClient

    boss, _manager = complaints
    client = APIClient()
    client.force_authenticate(boss)
    data = client.get("/api/v1/reports/complaints/", {"year": 2026}).json()
    assert [(r["month"], r["region"], r["received"]) for r in data["results"]] == [
        ("2026-10", "GZ", 1),
        ("2026-11", "GZ", 2),
    ]
    assert data["categories"]["network"] == 2 and data["tiers"]["gold"] == 2
    assert client.get("/api/v1/reports/complaints/", {"year": "x"}).status_code == 400
