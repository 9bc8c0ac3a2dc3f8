"""`benefits.granted {period_start, items}` outbound events (DOMAIN §11): one per member and period start."""

import datetime as dt

import pytest

from benefits import services
from core.models import OutboxEvent

from .helpers import member

pytestmark = pytest.mark.django_db


def events():
    return sorted(
        (e.customer_id, e.msisdn, e.data["period_start"], tuple((i["benefit"], i["granted"]) for i in e.data["items"]))
        for e in OutboxEvent.objects.filter(type="benefits.granted")
    )


def test_the_period_start_tells_each_member_her_grants_once_per_period():
    # given a silver member and a customer outside the club
    silver, outsider = member("silver"), member(None)
    # when the grants run on 1 January, twice
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    # then she has one event for the year's and the month's grants (both start on 1 January), in benefit order
    s = silver.msisdn
    items = (("emergency_reactivation", 3), ("lounge_airport", 2), ("lounge_train_province", 4), ("roaming_pack", 1))
    assert events() == [(silver.pk, s, "2026-01-01", items)]
    assert not OutboxEvent.objects.filter(customer_id=outsider.pk).exists()
    # and February's grants tell only the month's
    services.benefit_grants_run(on=dt.date(2026, 2, 1))
    assert events()[-1] == (silver.pk, s, "2026-02-01", (("emergency_reactivation", 3),))
