"""The activities' admin: sign a member up from the activity's page, attendance as an action, the report (HTML in
en and zh-hans, CSV) linked from the reports menu."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member
from service.activities.factories import make_activity
from service.activities.models import Signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def held(admin_client):
    """A club-wide activity that took place yesterday: 2 gold members signed up from the admin."""
    gz = RegionFactory(code="GZ", name="广州")
    e1 = make_manager("E1", region=gz)
    golds = [make_member(manager=e1, tier="gold", msisdn=f"1380000000{i}", name=f"金{i}") for i in range(2)]
    now = timezone.now()
    activity = make_activity(
        title="健康体检",
        capacity=5,
        quotas={"gold": 1},
        opens=now - dt.timedelta(hours=1),
        closes=now + dt.timedelta(days=1),
        cost="300.00",
    )
    for g in golds:
        response = admin_client.post(reverse("admin:service_activity_signup", args=[activity.pk]), {"msisdn": g.msisdn})
        assert response.status_code == 302
    type(activity).objects.filter(pk=activity.pk).update(
        signup_opens_at=now - dt.timedelta(days=5),
        signup_closes_at=now - dt.timedelta(days=2),
        starts_at=now - dt.timedelta(days=1),
    )
    return activity, golds


def test_signing_up_from_the_admin_confirms_then_waitlists_and_says_so(admin_client, held):
    activity, golds = held
    assert [s.status for s in Signup.objects.order_by("id")] == ["confirmed", "waitlisted"]
    assert {s.channel for s in Signup.objects.all()} == {"admin"}
    page = admin_client.get(reverse("admin:service_activity_change", args=[activity.pk])).content.decode()
    assert "138****0000" in page and "13800000000" not in page  # the sign-ups inline masks the numbers


def test_attendance_as_an_action_and_the_report_with_csv_in_both_languages(admin_client, held):
    activity, golds = held
    seated = Signup.objects.get(customer=golds[0])
    response = admin_client.post(
        reverse("admin:service_signup_changelist"),
        {"action": "mark_attended", "_selected_action": [seated.pk]},
    )
    assert response.status_code == 302
    seated.refresh_from_db()
    assert seated.status == "attended"
    url = reverse("admin:service_activity_report") + f"?year={timezone.localdate(activity.starts_at).year}"
    html = admin_client.get(url).content.decode()
    assert 'data-region="GZ" data-tier="gold"' in html and "300.00" in html and "100.0 %" in html
    zh = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "出席率" in zh and "健康体检" in zh
    csv = admin_client.get(url + "&format=csv").content.decode("utf-8-sig").splitlines()
    assert csv[0].startswith("region,region_name,tier,seats,waitlisted")
    assert csv[1].startswith("GZ,广州,gold,1,1,0,1,0,100.0,300.00,300.00")
    menu = admin_client.get(reverse("admin-staff-reports")).content.decode()
    assert reverse("admin:service_activity_report") in menu
