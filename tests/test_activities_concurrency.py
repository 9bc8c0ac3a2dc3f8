"""Activity sign-ups under concurrency (issue 19 item 3): never more confirmed than the capacity or a tier's quota,
the rest waitlisted in order, a cancellation promotes the first waiting member who fits.

PostgreSQL only (the house pattern of tests/test_concurrency.py): real threads, one connection each, through the
whole API request path (idempotency, the retry at the outermost transaction)."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member
from service.activities import services
from service.activities.factories import make_activity
from service.activities.models import ActivityTierQuota, Signup, SignupStatus
from tests.test_concurrency import assert_no_5xx, client, parallel, post

pytestmark = [
    pytest.mark.postgres,
    # real commits; the seeded data (tiers, groups) restored for each test, as the gift orders' test does
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def token(api_user) -> str:
    return Token.objects.create(user=api_user).key


def test_64_parallel_sign_ups_for_20_seats_and_a_gold_quota_of_5(token):
    # given 32 gold and 32 silver members, and an activity with 20 seats, a gold quota of 5, silver without a quota
    region = RegionFactory(code="GZ")
    manager = make_manager("E1", region=region, capacity=100)
    members = [
        make_member(manager=manager, tier="gold" if i % 2 else "silver", msisdn=f"1390000{i:04d}", name=f"会员{i}")
        for i in range(64)
    ]
    now = timezone.now()
    activity = make_activity(
        capacity=20,
        quotas={"gold": 5, "silver": None},
        opens=now - dt.timedelta(hours=1),
        closes=now + dt.timedelta(days=5),
    )
    path = f"/api/v1/activities/{activity.pk}/signups/"
    # when all 64 sign up at the same moment
    answers = parallel(
        [
            lambda m=m: post(token, path, {"msisdn": m.msisdn}, HTTP_IDEMPOTENCY_KEY=f"signup-{m.msisdn}")
            for m in members
        ]
    )
    # then every one is answered 201, none a 500
    assert_no_5xx(answers)
    assert {status for status, _ in answers} == {201}, answers
    statuses = [body["status"] for _, body in answers]
    # and exactly 20 are confirmed, gold within its quota of 5, the counters agree with the rows
    confirmed = Signup.objects.filter(activity=activity, status=SignupStatus.CONFIRMED)
    assert statuses.count("confirmed") == confirmed.count() == 20
    assert confirmed.filter(tier__code="gold").count() <= 5
    activity.refresh_from_db()
    assert activity.confirmed == 20
    gold = ActivityTierQuota.objects.get(activity=activity, tier__code="gold")
    assert gold.confirmed == confirmed.filter(tier__code="gold").count()
    # and the 44 others are waitlisted in order: numbers 1..44, each answered its place in the line
    waiting = list(Signup.objects.filter(activity=activity, status=SignupStatus.WAITLISTED).order_by("position"))
    assert len(waiting) == 44 == statuses.count("waitlisted")
    assert [s.position for s in waiting] == list(range(1, 45))
    places = sorted(body["position"] for _, body in answers if body["status"] == "waitlisted")
    assert places == list(range(1, 45))
    # when a confirmed gold member cancels (her seat and her tier's quota free)
    leaving = confirmed.filter(tier__code="gold").select_related("customer").first()
    response = client(token).delete(
        f"{path}{leaving.customer.msisdn}/", HTTP_IDEMPOTENCY_KEY=f"cancel-{leaving.customer.msisdn}"
    )
    # then the first member waiting moves up into her seat
    assert response.status_code == 200 and response.json() == {"status": "cancelled", "promoted": 1}
    first = Signup.objects.get(pk=waiting[0].pk)
    assert first.status == SignupStatus.CONFIRMED
    assert Signup.objects.filter(activity=activity, status=SignupStatus.CONFIRMED).count() == 20


def test_parallel_cancellations_promote_in_order_and_never_overfill(token):
    # given 30 gold members (quota 5) and 10 silver ones for 10 seats: 5 gold and 5 silver confirmed, 20 waiting
    region = RegionFactory(code="GZ")
    manager = make_manager("E1", region=region, capacity=100)
    members = [
        make_member(manager=manager, tier="silver" if i < 10 else "gold", msisdn=f"1391111{i:04d}", name=f"会员{i}")
        for i in range(40)
    ]
    now = timezone.now()
    activity = make_activity(
        capacity=10,
        quotas={"gold": 5, "silver": None},
        opens=now - dt.timedelta(hours=1),
        closes=now + dt.timedelta(days=5),
    )
    for i, m in enumerate(reversed(members)):  # the gold first: 5 seated, 25 waiting; then silver: 5 seated, 5 waiting
        services.activity_signup(activity=activity, customer=m, at=now + dt.timedelta(seconds=i), actor=None)
    silver_seated = list(
        Signup.objects.filter(activity=activity, tier__code="silver", status="confirmed").select_related("customer")
    )
    silver_waiting = list(
        Signup.objects.filter(activity=activity, tier__code="silver", status="waitlisted")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    assert len(silver_seated) == 5 and len(silver_waiting) == 5
    # when the 5 seated silver members cancel at the same moment
    answers = parallel(
        [
            lambda s=s: (
                client(token).delete(f"/api/v1/activities/{activity.pk}/signups/{s.customer.msisdn}/").status_code,
                None,
            )
            for s in silver_seated
        ]
    )
    assert_no_5xx(answers)
    assert [status for status, _ in answers] == [200] * 5
    # then the 5 seats went to the waiting silver members (gold's quota is full, the 25 gold keep waiting)
    activity.refresh_from_db()
    assert activity.confirmed == 10
    confirmed = Signup.objects.filter(activity=activity, status="confirmed")
    assert confirmed.filter(tier__code="gold").count() == 5
    assert sorted(confirmed.filter(tier__code="silver").values_list("pk", flat=True)) == sorted(silver_waiting)
    assert Signup.objects.filter(activity=activity, status="waitlisted", tier__code="gold").count() == 25
