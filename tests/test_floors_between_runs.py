"""The daily job applies the tier floors between runs (DOMAIN §3): an override on its start date, lifted the day after
its end, before the day's obligations are opened."""

import datetime as dt

import pytest
from django.utils import timezone

from benefits.models import BenefitAccount
from managers import daily
from tiers import rules, services
from tiers.models import Tier, TierChange
from tiers.tests.helpers import make_customer, state_of

pytestmark = pytest.mark.django_db


def test_the_daily_job_applies_an_override_on_its_start_date_and_lifts_it_the_day_after_its_end(django_user_model):
    # given a customer without a tier and an override to gold for 15–20 Dec, approved on 1 Dec
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    boss = django_user_model.objects.create_user(username="boss", is_staff=True)
    customer = make_customer(join_date=dt.date(2010, 1, 1))
    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code="gold"),
        reason="complaint",
        starts_on=dt.date(2026, 12, 15),
        ends_on=dt.date(2026, 12, 20),
        actor=clerk,
    )
    at = timezone.make_aware(dt.datetime(2026, 12, 1, 10))
    services.tier_override_approve(override=override, actor=boss, at=at, on=dt.date(2026, 12, 1))
    assert state_of(customer) == rules.NONE
    # when the daily job runs on the 15th
    result = daily.daily_run(on=dt.date(2026, 12, 15), at=timezone.make_aware(dt.datetime(2026, 12, 15, 2)))
    # then she is gold by the override from that day, with a history row
    assert result["counts"]["tier_floors"] == 1 and result["details"]["tier_floors"] == {"joined": 1}
    assert state_of(customer) == rules.TierState("gold", "override", dt.date(2026, 12, 20))
    # and when it runs on the 21st, the override is lifted
    daily.daily_run(on=dt.date(2026, 12, 21), at=timezone.make_aware(dt.datetime(2026, 12, 21, 2)))
    assert state_of(customer) == rules.NONE
    assert list(TierChange.objects.filter(customer=customer).values_list("transition", "reason", "effective_on")) == [
        ("joined", "override", dt.date(2026, 12, 15)),
        ("left", "override", dt.date(2026, 12, 21)),
    ]


def test_the_quotas_follow_a_floor_the_daily_job_applies_on_the_same_day(django_user_model):
    # given a customer without a tier and an override to gold from 15 Dec, approved on 1 Dec
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    boss = django_user_model.objects.create_user(username="boss", is_staff=True)
    customer = make_customer(join_date=dt.date(2010, 1, 1))
    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code="gold"),
        reason="complaint",
        starts_on=dt.date(2026, 12, 15),
        ends_on=dt.date(2027, 3, 31),
        actor=clerk,
    )
    services.tier_override_approve(
        override=override, actor=boss, at=timezone.make_aware(dt.datetime(2026, 12, 1, 10)), on=dt.date(2026, 12, 1)
    )
    assert not BenefitAccount.objects.filter(customer=customer, granted__gt=0).exists()
    # when the daily job of the 15th makes her gold
    daily.daily_run(on=dt.date(2026, 12, 15), at=timezone.make_aware(dt.datetime(2026, 12, 15, 2)))
    # then she has gold's quotas that very day, not only after the next monthly run
    granted = dict(
        BenefitAccount.objects.filter(customer=customer, granted__gt=0).values_list("benefit__code", "granted")
    )
    assert granted.get("lounge_airport") == 6
