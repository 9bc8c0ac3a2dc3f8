"""The satisfaction surveys' SMS (DOMAIN §9, §11): every survey the service app sent becomes one `sms.requested`
event with the `survey` template in the next daily pass, never twice, not to a member who opted out."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.models import OutboxEvent
from customers.factories import RegionFactory
from partners import sms
from partners.models import SmsOptOut
from service import surveys
from service.factories import members
from service.models import SurveySend

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]


def test_the_quarterly_sample_is_told_by_sms_once_and_not_to_an_opted_out_member():
    # given a branch of 40 members, one of whom opted out of marketing SMS, and the quarter's sample drawn
    people = members(40, region=RegionFactory(code="GZ"))
    on = dt.date(2027, 1, 1)
    at = dt.datetime(2027, 1, 1, 7, 30, tzinfo=SH)
    surveys.surveys_daily(on=on, at=at, seed=7)
    sampled = list(SurveySend.objects.values_list("customer_id", flat=True))
    assert len(sampled) == 2
    SmsOptOut.objects.create(customer_id=sampled[0], opted_out_at=at)
    # when the daily SMS pass runs
    assert sms.sms_daily(on=on, at=at) == {"survey": 1}
    # then the other sampled member gets the survey SMS (after the quiet hours), naming her, with the link
    (event,) = OutboxEvent.objects.filter(type="sms.requested")
    member = next(p for p in people if p.pk == sampled[1])
    assert event.customer_id == member.pk and event.data["template"] == "survey"
    assert (
        member.name in event.data["text"] and f"/s/{SurveySend.objects.get(customer=member).pk}" in event.data["text"]
    )
    assert dt.datetime.fromisoformat(event.data["not_before"]) == dt.datetime(2027, 1, 1, 8, 0, tzinfo=SH)
    # and both sends are marked: the next day's pass tells nobody again
    assert not SurveySend.objects.filter(sms_at__isnull=True).exists()
    assert sms.sms_daily(on=on + dt.timedelta(days=1), at=at + dt.timedelta(days=1)) == {}


def test_the_survey_sms_carries_the_configured_link(settings):
    # given the club's survey link configured (VIPCLUB_SURVEY_LINK) and a quarter's sample drawn
    settings.VIPCLUB_SURVEY_LINK = "https://survey.club.example.cn/q/{id}?from=sms"
    members(20, region=RegionFactory(code="GZ"))
    on = dt.date(2027, 1, 1)
    at = dt.datetime(2027, 1, 1, 9, 0, tzinfo=SH)
    surveys.surveys_daily(on=on, at=at, seed=7)
    (send,) = SurveySend.objects.all()
    # when the daily SMS pass runs
    assert sms.sms_daily(on=on, at=at) == {"survey": 1}
    # then the member's SMS carries that link with her survey's id, not the default one
    (event,) = OutboxEvent.objects.filter(type="sms.requested")
    assert f"https://survey.club.example.cn/q/{send.pk}?from=sms" in event.data["text"]
    assert "vip.example.com" not in event.data["text"]


def _setting_in_a_fresh_process(value: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIPCLUB_SURVEY_LINK": value, "DJANGO_SETTINGS_MODULE": "vipclub.settings"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.VIPCLUB_SURVEY_LINK)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_survey_link_is_read_from_the_environment_and_a_bad_one_is_refused_at_start():
    # the environment's link is the setting
    result = _setting_in_a_fresh_process("https://s.example.cn/{id}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://s.example.cn/{id}"
    # a field other than {id} would fail every survey SMS later: the process refuses to start, naming the variable
    result = _setting_in_a_fresh_process("https://s.example.cn/{member}")
    assert result.returncode != 0
    assert "VIPCLUB_SURVEY_LINK may hold {id} and no other" in result.stderr
