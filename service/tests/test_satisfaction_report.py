"""The satisfaction report (DOMAIN §9): mean and share of 4–5 per quarter, branch, manager and tier, against the
year's target and last year, in the admin (SVG chart, CSV) in both languages and in the reports menu."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from managers.tests.helpers import make_manager, make_member, make_supervisor
from service import survey_selectors
from service.factories import answered
from service.models import SatisfactionTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def scores():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    gold = make_member(tier="gold", manager=manager, msisdn="13900000001")
    silver = make_member(tier="silver", manager=manager, msisdn="13900000002")
    # this year: 5 and 4 in Q1 (gold, silver), 2 in Q4 (gold); last year 3 in Q1
    answered(gold, on=dt.date(2026, 2, 10), score=5, manager=manager)
    answered(silver, on=dt.date(2026, 2, 11), score=4, manager=manager)
    answered(gold, on=dt.date(2026, 11, 2), score=2, manager=manager, trigger="complaint")
    answered(gold, on=dt.date(2025, 3, 1), score=3, manager=manager)
    SatisfactionTarget.objects.create(year=2026, mean_score=Decimal("4.20"), satisfied_share=Decimal("85"))
    return boss, manager


def test_scores_per_quarter_branch_manager_and_tier(scores):
    report = survey_selectors.satisfaction_report(year=2026)
    q1, _q2, _q3, q4 = report["quarters"]
    assert (q1["answers"], q1["mean"], q1["satisfied_share"]) == (2, Decimal("4.50"), Decimal("100.0"))
    assert (q4["answers"], q4["mean"], q4["satisfied_share"]) == (1, Decimal("2.00"), Decimal("0.0"))
    assert q1["last_year"]["mean"] == Decimal("3.00") and q4["last_year"]["answers"] == 0
    assert report["totals"]["mean"] == Decimal("3.67") and report["totals"]["satisfied_share"] == Decimal("66.7")
    assert report["totals"]["last_year"]["mean"] == Decimal("3.00")
    assert [(r["quarter"], r["region"].code, r["answers"]) for r in report["rows"]] == [(1, "GZ", 2), (4, "GZ", 1)]
    assert [(r["manager"].employee_no, r["answers"]) for r in report["managers"]] == [("AM1", 3)]
    assert [(r["tier"].code, r["mean"]) for r in report["tiers"]] == [("gold", Decimal("3.50")), ("silver", 4)]
    assert report["target"].mean_score == Decimal("4.20")


@pytest.mark.parametrize(
    ("language", "title", "header"),
    [("en", "Satisfaction report", "Mean score (1–5)"), ("zh-hans", "满意度报表", "平均分（1–5）")],
)
def test_report_renders_with_a_chart_and_csv_in_both_languages(scores, language, title, header):
    # given the branch supervisor logged in to the admin
    boss, _manager = scores
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(boss)
    # when she opens the reports menu, then the satisfaction report is listed
    menu = client.get(reverse("admin-staff-reports"))
    assert menu.status_code == 200 and "/admin/service/surveyresponse/report/" in menu.content.decode()
    # when she opens it for 2026
    page = client.get("/admin/service/surveyresponse/report/", {"year": 2026})
    html = page.content.decode()
    # then it shows the chart (this year beside last year) and the tables in her language
    assert page.status_code == 200
    assert title in html and header in html
    assert 'id="quarter-chart"' in html and html.count('role="img"') == 1
    assert 'data-quarter="2026-Q1"' in html and 'data-quarter="2025-Q1"' in html
    assert 'data-region="GZ" data-quarter="1"' in html and "4.20" in html
    # and its CSV carries the totals against the target, the rows per quarter and branch, manager and tier
    response = client.get("/admin/service/surveyresponse/report/", {"year": 2026, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["year", "answers", "mean", "satisfied_share"]
    assert rows[1] == ["2026", "3", "3.67", "66.7", "4.20", "85.00", "3.00"]
    assert ["2026-Q1", "GZ", "广州", "2", "4.50", "100.0"] in rows
    assert ["AM1", "AM1", "3", "3.67", "66.7"] in rows or any(r[:1] == ["AM1"] for r in rows)


@pytest.mark.parametrize(("language", "label"), [("en", "Member satisfaction"), ("zh-hans", "会员满意度")])
def test_the_cockpit_and_the_team_page_show_this_quarters_satisfaction(language, label):
    # given this quarter's answers 5 and 3 of a supervisor's team, and the year's target
    from django.utils import timezone

    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    today = timezone.localdate()
    start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    answered(make_member(manager=manager), on=start, score=5, manager=manager)
    answered(make_member(manager=manager), on=start, score=3, manager=manager, trigger="complaint")
    SatisfactionTarget.objects.create(year=today.year, mean_score=Decimal("4.50"), satisfied_share=Decimal("90"))
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(boss)
    # when she opens the cockpit, then the satisfaction card shows the mean, the share and the target
    html = client.get("/admin/").content.decode()
    assert 'id="card-satisfaction"' in html and label in html
    assert 'id="satisfaction-mean">4.00</a>' in html and "50.0 %" in html and "4.50" in html
    # and her team page has the quarter's satisfaction line
    team = client.get("/dashboard/team/").content.decode()
    assert 'id="team-satisfaction"' in team and "4.00<small>/5</small>" in team and "50.0 %" in team


def test_a_target_set_in_the_admin_is_audited_and_a_bad_one_refused(staff_user):
    from core.errors import InvalidInput
    from core.models import ActionLog
    from service import surveys

    client = Client()
    client.force_login(staff_user)
    # when club staff set 2027's target in the admin, then change it
    form = {"year": "2027", "mean_score": "4.30", "satisfied_share": "85.00"}
    assert client.post(reverse("admin:service_satisfactiontarget_add"), form).status_code == 302
    target = SatisfactionTarget.objects.get(year=2027)
    changed = form | {"mean_score": "4.40"}
    url = reverse("admin:service_satisfactiontarget_change", args=[target.pk])
    assert client.post(url, changed).status_code == 302
    # then the trail says who set it and the values before and after
    rows = list(ActionLog.objects.filter(action="satisfaction_target_set").order_by("id"))
    assert [r.actor for r in rows] == [staff_user.username] * 2
    assert rows[0].details["mean_score"] == [None, "4.30"]
    assert rows[1].details["mean_score"] == ["4.30", "4.40"]
    assert SatisfactionTarget.objects.get(year=2027).mean_score == Decimal("4.40")
    # and the service refuses a target out of range, naming the field
    with pytest.raises(InvalidInput) as exc:
        surveys.satisfaction_target_set(
            year=2027, mean_score=Decimal("6"), satisfied_share=Decimal("101"), at=None, actor=None
        )
    assert set(exc.value.fields) == {"mean_score", "satisfied_share"}
