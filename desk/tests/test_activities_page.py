"""The desk's activities page: a manager signs her invited members up, sees the waitlist, cancels, and after the
day records attendance."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member
from service.activities.factories import make_activity
from service.activities.models import Activity, Signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    gz = RegionFactory(code="GZ", name="广州")
    e1 = make_manager("E1", region=gz)
    golds = [make_member(manager=e1, tier="gold", msisdn=f"1380000000{i}", name=f"金{i}") for i in range(2)]
    (silver,) = [make_member(manager=e1, tier="silver", msisdn="13800000009", name="银")]
    now = timezone.now()
    activity = make_activity(
        title="联谊会",
        capacity=1,
        quotas={"gold": None},
        opens=now - dt.timedelta(hours=1),
        closes=now + dt.timedelta(days=2),
    )
    client = Client()
    client.force_login(e1.user)
    return client, activity, golds, silver


def act(client, activity, customer, action):
    url = reverse("managers:activity-action", args=[activity.pk, customer.msisdn, action])
    return client.post(url, follow=True).content.decode()


def test_a_manager_signs_up_her_invited_members_and_the_second_waits(desk):
    client, activity, golds, silver = desk
    # given her page lists the invited gold members, not the silver one
    page = client.get(reverse("managers:activities")).content.decode()
    assert "联谊会" in page and "金0" in page and "金1" in page and "银" not in page
    # when she signs both up: the first has the seat, the second waits (capacity 1)
    assert "has a seat" in act(client, activity, golds[0], "signup")
    page = act(client, activity, golds[1], "signup")
    assert "on the waitlist, number 1" in page
    assert [s.channel for s in Signup.objects.all()] == ["desk", "desk"]
    # when the first cancels, the second moves up
    assert "The first member waiting moved up." in act(client, activity, golds[0], "cancel")
    assert Signup.objects.get(customer=golds[1]).status == "confirmed"


def test_after_the_day_she_records_who_came(desk):
    client, activity, golds, silver = desk
    act(client, activity, golds[0], "signup")
    now = timezone.now()
    Activity.objects.filter(pk=activity.pk).update(
        signup_opens_at=now - dt.timedelta(days=3),
        signup_closes_at=now - dt.timedelta(days=2),
        starts_at=now - dt.timedelta(hours=2),
    )
    page = client.get(reverse("managers:activities")).content.decode()
    assert 'data-action="attended"' in page
    assert "Attendance recorded" in act(client, activity, golds[0], "attended")
    assert Signup.objects.get(customer=golds[0]).status == "attended"


def test_another_managers_member_is_not_hers_to_sign_up(desk):
    client, activity, golds, silver = desk
    other = make_member(
        manager=make_manager("E2", region=golds[0].region), tier="gold", msisdn="13900000001", name="他"
    )
    url = reverse("managers:activity-action", args=[activity.pk, other.msisdn, "signup"])
    assert client.post(url).status_code == 404
    assert not Signup.objects.exists()
