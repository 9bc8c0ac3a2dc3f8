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


# --- the catalogue's audit trail ---------------------------------------------------------------------------


def _form(activity=None, **fields) -> dict:
    """The admin's add/change form with its quota inline (management form included)."""
    from tiers.models import Tier

    base = {
        "title": "新年艺术演出",
        "kind": "performance",
        "starts_at_0": "2027-01-10",
        "starts_at_1": "19:30:00",
        "place": "广州大剧院",
        "region": "",
        "capacity": "40",
        "signup_opens_at_0": "2026-12-20",
        "signup_opens_at_1": "09:00:00",
        "signup_closes_at_0": "2027-01-05",
        "signup_closes_at_1": "18:00:00",
        "cost_per_head": "180.00",
        "description": "",
        "quotas-TOTAL_FORMS": "1",
        "quotas-INITIAL_FORMS": "0",
        "quotas-MIN_NUM_FORMS": "0",
        "quotas-MAX_NUM_FORMS": "1000",
        "quotas-0-tier": str(Tier.objects.get(code="gold").pk),
        "quotas-0-seats": "10",
        "signups-TOTAL_FORMS": "0",
        "signups-INITIAL_FORMS": "0",
        "signups-MIN_NUM_FORMS": "0",
        "signups-MAX_NUM_FORMS": "0",
    }
    if activity is not None:
        quota = activity.quotas.get()
        base |= {
            "quotas-INITIAL_FORMS": "1",
            "quotas-0-id": str(quota.pk),
            "quotas-0-activity": str(activity.pk),
        }
    return base | fields


def test_creating_changing_and_calling_off_an_activity_in_the_admin_is_audited(admin_client, staff_user):
    from core.models import ActionLog
    from service.activities.models import Activity

    # when club staff create an activity in the admin
    response = admin_client.post(reverse("admin:service_activity_add"), _form())
    assert response.status_code == 302, response.content.decode()[:2000]
    activity = Activity.objects.get(title="新年艺术演出")
    # then the audit trail says who created it and with what: its fields and its invited tier's quota
    created = ActionLog.objects.get(action="activity_created", object_id=str(activity.pk))
    assert created.actor == staff_user.username
    assert created.details["changes"]["capacity"] == [None, 40]
    assert created.details["changes"]["starts_at"] == [None, "2027-01-10T19:30+08:00"]
    assert created.details["quotas"] == {"gold": [None, 10]}
    assert activity.created_by == staff_user
    # when she changes the capacity, the place and the gold quota
    response = admin_client.post(
        reverse("admin:service_activity_change", args=[activity.pk]),
        _form(activity, capacity="60", place="广州星海音乐厅", **{"quotas-0-seats": "15"}),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # then one row names each changed field before and after, and nothing that did not change
    changed = ActionLog.objects.get(action="activity_changed", object_id=str(activity.pk))
    assert changed.actor == staff_user.username
    assert changed.details["changes"] == {"capacity": [40, 60], "place": ["广州大剧院", "广州星海音乐厅"]}
    assert changed.details["quotas"] == {"gold": [10, 15]}
    # and saving again without a change writes no row
    admin_client.post(
        reverse("admin:service_activity_change", args=[activity.pk]),
        _form(activity, capacity="60", place="广州星海音乐厅", **{"quotas-0-seats": "15"}),
    )
    assert ActionLog.objects.filter(action="activity_changed", object_id=str(activity.pk)).count() == 1
    # when she calls it off (the list's action), then that too is on the trail, by her
    admin_client.post(
        reverse("admin:service_activity_changelist"), {"action": "call_off", "_selected_action": [activity.pk]}
    )
    off = ActionLog.objects.get(action="activity_cancelled", object_id=str(activity.pk))
    assert off.actor == staff_user.username
    # and the action log's page lists the three, in the user's language
    page = admin_client.get(
        reverse("admin:core_actionlog_changelist") + f"?q={activity.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "活动已创建" in page and "活动已修改" in page and "活动已取消" in page


def test_saving_a_held_activity_keeps_its_seat_counters_and_refuses_a_capacity_below_them(admin_client, held):
    from core.models import ActionLog
    from service.activities.models import Activity

    activity, _golds = held  # 1 confirmed (gold quota 1), 1 waitlisted; held yesterday
    quota = activity.quotas.get()
    local = {
        name: timezone.localtime(getattr(Activity.objects.get(pk=activity.pk), name))
        for name in ("starts_at", "signup_opens_at", "signup_closes_at")
    }
    form = {
        "title": activity.title,
        "kind": activity.kind,
        "place": activity.place,
        "region": "",
        "capacity": "5",
        "cost_per_head": "300.00",
        "description": "带身份证",
        "quotas-TOTAL_FORMS": "1",
        "quotas-INITIAL_FORMS": "1",
        "quotas-MIN_NUM_FORMS": "0",
        "quotas-MAX_NUM_FORMS": "1000",
        "quotas-0-id": str(quota.pk),
        "quotas-0-activity": str(activity.pk),
        "quotas-0-tier": str(quota.tier_id),
        "quotas-0-seats": "1",
        "signups-TOTAL_FORMS": "0",
        "signups-INITIAL_FORMS": "0",
        "signups-MIN_NUM_FORMS": "0",
        "signups-MAX_NUM_FORMS": "0",
    }
    for name, value in local.items():
        form |= {f"{name}_0": value.strftime("%Y-%m-%d"), f"{name}_1": value.strftime("%H:%M:%S")}
    url = reverse("admin:service_activity_change", args=[activity.pk])
    # a capacity below the seat already confirmed is refused, saying why
    refused = admin_client.post(url, form | {"capacity": "0"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 200 and "1 seats are already confirmed" in refused.content.decode()
    # a change of the description keeps the seats confirmed, the state and the quota's counter as they are
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    fresh = Activity.objects.get(pk=activity.pk)
    assert (fresh.description, fresh.confirmed, fresh.status) == ("带身份证", 1, "published")
    assert fresh.quotas.get().confirmed == 1
    row = ActionLog.objects.get(action="activity_changed", object_id=str(activity.pk))
    assert row.details["changes"] == {"description": ["", "带身份证"]} and "quotas" not in row.details
