"""Returning a redemption's points to the lots they came from (a cancelled gift order): same lots, same expiry,
once per key; points whose lot expired meanwhile come back expired; the ledger invariant holds."""

import datetime as dt

import pytest

from core.errors import InvalidInput, RuleViolation
from points import services
from points.models import PointsEntry
from points.tests.helpers import assert_ledger_sound, balance, customer, lots

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 11, 20)


@pytest.fixture
def member():
    c = customer()
    services.points_move_in(customer=c, lots=[(2024, 100), (2025, 200), (2026, 300)], from_region="SZ", on=ON)
    return c


def test_the_points_go_back_to_their_lots_once(member):
    # given a redemption of 250: 100 from 2024, 150 from 2025
    before = lots(member)
    r = services.points_redeem(customer=member, points=250, reference="gift", idempotency_key="r1", on=ON)
    # when it is returned, twice under the same key
    first = services.points_redemption_return(
        customer=member, entry_id=r.entry_id, reference="cancel", idempotency_key="r1:back", on=ON
    )
    again = services.points_redemption_return(
        customer=member, entry_id=r.entry_id, reference="cancel", idempotency_key="r1:back", on=ON
    )
    # then the lots are as before (their expiry untouched), the balance whole, one entry with the lots in detail
    assert lots(member) == before
    assert (first.points, first.balance, again.replayed, again.entry_id) == (250, 600, True, first.entry_id)
    entry = PointsEntry.objects.get(idempotency_key="r1:back")
    assert [(d["year"], d["points"]) for d in entry.detail] == [(2024, 100), (2025, 150)]
    assert balance(member) == 600
    assert_ledger_sound()


def test_expired_lots_take_their_points_back_at_once(member):
    r = services.points_redeem(customer=member, points=150, reference="gift", idempotency_key="r2", on=ON)
    back = services.points_redemption_return(
        customer=member, entry_id=r.entry_id, reference="cancel", idempotency_key="r2:back", on=dt.date(2027, 1, 2)
    )
    # 100 of 2024 (expired on 31 Dec 2026) return and expire; 50 of 2025 are live again
    assert (back.points, back.expired, back.balance) == (150, 100, 500)
    assert balance(member) == 500
    assert_ledger_sound()


def test_an_unknown_redemption_or_a_reused_key_is_refused(member):
    with pytest.raises(InvalidInput):
        services.points_redemption_return(customer=member, entry_id=999, reference="x", idempotency_key="k", on=ON)
    services.points_redeem(customer=member, points=10, reference="gift", idempotency_key="used", on=ON)
    with pytest.raises(RuleViolation):
        services.points_redemption_return(customer=member, entry_id=1, reference="x", idempotency_key="used", on=ON)
