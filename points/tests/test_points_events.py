"""`points.changed` outbound events (DOMAIN §11): one per ledger entry of a redemption, transfer, clearing, move-in."""

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import RuleViolation
from core.models import OutboxEvent
from points import services
from points.tests.helpers import bill, customer

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 11, 20)


def events():
    return [(e.msisdn, e.data) for e in OutboxEvent.objects.filter(type="points.changed").order_by("id")]


def with_600(c=None):
    c = c or customer()
    bill(c, dt.date(2026, 3, 1), "600", on=dt.date(2026, 4, 2))
    OutboxEvent.objects.filter(type="points.changed").delete()  # the earning's own events are not under test here
    return c


def test_redemption_transfer_clearing_and_move_in_each_tell_the_change_and_the_balance(no_rewards):
    sender, recipient = with_600(), with_600()
    services.points_redeem(customer=sender, points=100, on=ON)
    services.points_redeem(customer=sender, points=100, idempotency_key="k", on=ON)
    services.points_redeem(customer=sender, points=100, idempotency_key="k", on=ON)  # a replay: no event
    services.points_transfer(source=sender, target=recipient, points=50, on=ON)
    services.points_clear(customer=recipient, on=ON, at=timezone.now())
    services.points_move_in(customer=sender, lots=[(2025, 30), (2026, 20)], from_region="XX", on=ON)
    s, r = sender.msisdn, recipient.msisdn
    assert events() == [
        (s, {"delta": -100, "balance": 500, "kind": "redeem"}),
        (s, {"delta": -100, "balance": 400, "kind": "redeem"}),
        (s, {"delta": -50, "balance": 350, "kind": "transfer_out"}),
        (r, {"delta": 50, "balance": 650, "kind": "transfer_in"}),
        (r, {"delta": -650, "balance": 0, "kind": "clear"}),
        (s, {"delta": 30, "balance": 380, "kind": "transfer_in"}),
        (s, {"delta": 20, "balance": 400, "kind": "transfer_in"}),
    ]


def test_a_refused_redemption_writes_no_event(no_rewards):
    c = with_600()
    with pytest.raises(RuleViolation):
        services.points_redeem(customer=c, points=601, on=ON)
    assert events() == []


def test_earning_and_expiry_tell_each_customer_s_change_once(no_rewards):
    # given a bill of 600 yuan for March 2026, then a correction to 650
    c = customer()
    bill(c, dt.date(2026, 3, 1), "600", on=dt.date(2026, 4, 2))
    bill(c, dt.date(2026, 3, 1), "650", on=dt.date(2026, 4, 3))
    bill(c, dt.date(2026, 3, 1), "650", on=dt.date(2026, 4, 4))  # the same amount again: nothing to post
    # when the points of 2026 expire (31 Dec 2028)
    services.points_expire(on=dt.date(2028, 12, 31))
    # then every change of the balance was told once, with the balance after it
    assert events() == [
        (c.msisdn, {"delta": 600, "balance": 600, "kind": "earn"}),
        (c.msisdn, {"delta": 50, "balance": 650, "kind": "earn"}),
        (c.msisdn, {"delta": -650, "balance": 0, "kind": "expire"}),
    ]
