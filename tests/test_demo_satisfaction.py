"""The demo club shows satisfaction against its target out of the box (issue 19's gaps): `seed_demo` sets this year's
and last year's targets and draws this quarter's and last year's same quarter's samples, most members answering; the
cockpit, the supervisor's team page and the satisfaction report show the score against the target, and without a
target each says so plainly."""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from core.models import ActionLog
from service.models import SatisfactionTarget, SurveyResponse

from .test_commands import run, var_dir  # noqa: F401  (var_dir is a fixture)

AS_OF = dt.date(2026, 12, 4)
NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def club(var_dir):  # noqa: F811
    with time_machine.travel(NOON, tick=False):
        with translation.override("en"):
            out, _ = run("seed_demo", "--customers", "60", "--as-of", AS_OF.isoformat(), "--seed", "3")
        yield out


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (up to its closing tag of the same name)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"', html)
    assert match, element_id
    end = html.index(f"</{match.group(1)}>", match.end())
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[match.start() : end]))).strip()


def pages(client) -> dict[str, str]:
    """The three pages that put satisfaction against the target: the cockpit (club admin), the supervisor's team
    page and the satisfaction report of the year."""
    users = get_user_model().objects
    client.force_login(users.get(username="admin"))
    cockpit = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    report = client.get(
        reverse("admin:service_satisfaction_report") + f"?year={AS_OF.year}", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    client.force_login(users.get(username="supervisor"))
    team = client.get("/dashboard/team/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    return {
        "cockpit": text_of(cockpit, "card-satisfaction"),
        "team": text_of(team, "team-satisfaction"),
        "report": text_of(report, "totals-table"),
    }


@pytest.mark.django_db
def test_the_demo_shows_satisfaction_against_its_target_and_says_so_when_there_is_none(club, client):
    # given the demo club seeded: this year's and last year's targets, set through the audited service
    target = SatisfactionTarget.objects.get(year=AS_OF.year)
    assert (target.mean_score, target.satisfied_share) == (Decimal("4.30"), Decimal("85.00"))
    assert SatisfactionTarget.objects.filter(year=AS_OF.year - 1).exists()
    assert ActionLog.objects.filter(action="satisfaction_target_set").count() == 2
    # and answers this quarter and in the same quarter last year, none after the demo's morning
    this_quarter = SurveyResponse.objects.filter(answered_on__gte=dt.date(2026, 10, 1), answered_on__lte=AS_OF)
    last_year = SurveyResponse.objects.filter(
        answered_on__gte=dt.date(2025, 10, 1), answered_on__lt=dt.date(2026, 1, 1)
    )
    assert this_quarter.exists() and last_year.exists()
    assert not SurveyResponse.objects.filter(answered_at__gt=NOON).exists()
    assert "satisfaction: targets 2" in club

    with time_machine.travel(NOON, tick=False):
        shown = pages(client)
    # then the cockpit shows this quarter's mean score against the target and last year
    assert re.search(r"Member satisfaction, Q4 \d\.\d+ / 5", shown["cockpit"]), shown["cockpit"]
    assert "Target: 4.30 · 85.00 %" in shown["cockpit"]
    assert re.search(r"last year: \d\.\d+ · [\d.]+ %", shown["cockpit"]), shown["cockpit"]
    # and so does the supervisor's team page
    assert re.search(r"^\d\.\d+ /5 Satisfaction Q4", shown["team"]), shown["team"]
    assert "Target: 4.30 · 85.00 %" in shown["team"]
    # and the satisfaction report's totals
    assert "Target 4.30 85.00 %" in shown["report"], shown["report"]

    # when the year has no target, each page says so plainly
    SatisfactionTarget.objects.filter(year=AS_OF.year).delete()
    with time_machine.travel(NOON, tick=False):
        shown = pages(client)
    for page, text in shown.items():
        assert "No target set for this year." in text, (page, text)
