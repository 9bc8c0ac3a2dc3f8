"""Redemption (FIFO by expiry), transfers (same brand and province, the points keep their lots' expiry), freezes,
closure clearing, the move-in, idempotency keys, and concurrent spending from one account (PostgreSQL)."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import InvalidInput, RuleViolation
from core.models import ActionLog
from points import services
from points.models import EntryKind, PointsEntry, PointsLot
from points.tests.helpers import balance, bill, customer, lots, region

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 11, 20)


def with_points(c, amounts: dict):
    for month, amount in amounts.items():
        bill(c, month, amount, on=dt.date(month.year + (month.month == 12), month.month % 12 + 1, 2))
    return c


def three_years(c=None):
    """Points of 2024 (100), 2025 (200), 2026 (300)."""
    return with_points(
        c or customer(), {dt.date(2024, 12, 1): "100", dt.date(2025, 6, 1): "200", dt.date(2026, 3, 1): "300"}
    )


def test_redemption_consumes_the_oldest_lots_first_across_years(no_rewards):
    c = three_years()
    # when 250 are redeemed / then all of 2024 (100), then 150 of 2025
    result = services.points_redeem(customer=c, points=250, reference="ORDER-1", on=ON)
    assert result.balance == 350 == balance(c)
    assert [(y, r) for y, _k, _o, r, _e in lots(c)] == [(2024, 0), (2025, 50), (2026, 300)]
    entry = PointsEntry.objects.get(pk=result.entry_id)
    assert (entry.kind, entry.amount, entry.reference, entry.balance_after) == ("redeem", -250, "ORDER-1", 350)
    assert [(d["year"], d["points"]) for d in entry.detail] == [(2024, 100), (2025, 150)]
    # and the next redemption continues with 2025
    services.points_redeem(customer=c, points=60, reference="ORDER-2", on=ON)
    assert [(y, r) for y, _k, _o, r, _e in lots(c)] == [(2024, 0), (2025, 0), (2026, 290)]


def test_redemption_beyond_the_balance_is_refused(no_rewards):
    c = three_years()
    with pytest.raises(RuleViolation) as exc:
        services.points_redeem(customer=c, points=601, reference="X", on=ON)
    assert exc.value.code == "insufficient_points"
    assert balance(c) == 600
    assert not PointsEntry.objects.filter(kind=EntryKind.REDEEM).exists()


def test_expired_but_not_yet_cleared_points_cannot_be_spent(no_rewards):
    # given 2024's 100 points (expired on 31 Dec 2026) before the year-end job ran
    c = three_years()
    with pytest.raises(RuleViolation) as exc:
        services.points_redeem(customer=c, points=501, reference="X", on=dt.date(2027, 1, 1))
    assert exc.value.code == "insufficient_points"
    services.points_redeem(customer=c, points=500, reference="X", on=dt.date(2027, 1, 1))
    assert [(y, r) for y, _k, _o, r, _e in lots(c)] == [(2024, 100), (2025, 0), (2026, 0)]


@pytest.mark.parametrize("points", [0, -5, 1.5, True])
def test_points_must_be_a_whole_number_above_zero(no_rewards, points):
    with pytest.raises(InvalidInput):
        services.points_redeem(customer=three_years(), points=points, reference="X", on=ON)


def test_an_idempotency_key_replays_the_first_answer(no_rewards):
    c = three_years()
    first = services.points_redeem(customer=c, points=100, reference="A", idempotency_key="k1", on=ON)
    again = services.points_redeem(customer=c, points=100, reference="A", idempotency_key="k1", on=ON)
    assert (again.entry_id, again.balance, again.replayed) == (first.entry_id, 500, True)
    assert balance(c) == 500
    assert PointsEntry.objects.filter(kind=EntryKind.REDEEM).count() == 1
    # the same key for another request is refused
    with pytest.raises(RuleViolation) as exc:
        services.points_redeem(customer=c, points=7, reference="A", idempotency_key="k1", on=ON)
    assert exc.value.code == "idempotency_key_reused"


def test_a_transfer_keeps_the_lots_expiry(no_rewards):
    # given a sender with points of 2024, 2025, 2026 and a recipient with points of 2026
    sender = three_years()
    recipient = with_points(customer(), {dt.date(2026, 2, 1): "40"})
    # when 150 are transferred
    result = services.points_transfer(source=sender, target=recipient, points=150, on=ON)
    # then the sender's oldest lots are taken (all of 2024, 50 of 2025) …
    assert (result.from_balance, result.to_balance) == (450, 190)
    assert [(y, r) for y, _k, _o, r, _e in lots(sender)] == [(2024, 0), (2025, 150), (2026, 300)]
    # … and arrive as the recipient's transfer lots of the same years, with the same expiry
    assert lots(recipient) == [
        (2024, "transfer", 100, 100, dt.date(2026, 12, 31)),
        (2025, "transfer", 50, 50, dt.date(2027, 12, 31)),
        (2026, "earn", 40, 40, dt.date(2028, 12, 31)),
    ]
    kinds = PointsEntry.objects.filter(kind__startswith="transfer").order_by("id")
    assert [(e.customer_id, e.kind, e.amount, e.counterpart_id) for e in kinds] == [
        (sender.pk, "transfer_out", -150, recipient.pk),
        (recipient.pk, "transfer_in", 150, sender.pk),
    ]
    # and the 2024 points expire at the recipient on 31 Dec 2026 as they would have at the sender
    services.points_expire(on=dt.date(2026, 12, 31))
    assert balance(recipient) == 90


def test_a_transfer_needs_the_same_brand_and_province(no_rewards):
    sender = three_years(customer(brand="gotone"))
    other_brand = customer(brand="mzone")
    other_province = customer(brand="gotone", region=region("SZX", "深圳", "深圳"))
    same_province_other_city = customer(brand="gotone", region=region("SZ", "广东", "深圳"))
    for target, field in ((other_brand, "brand"), (other_province, "province")):
        with pytest.raises(RuleViolation) as exc:
            services.points_transfer(source=sender, target=target, points=10, on=ON)
        assert exc.value.code == "transfer_not_allowed"
        assert field in exc.value.fields
    # another city of the same province is fine
    services.points_transfer(source=sender, target=same_province_other_city, points=10, on=ON)
    assert balance(same_province_other_city) == 10
    with pytest.raises(InvalidInput):
        services.points_transfer(source=sender, target=sender, points=10, on=ON)


def test_frozen_accounts_neither_redeem_nor_transfer(no_rewards):
    sender, recipient = three_years(), customer()
    services.points_freeze(customer=sender, reason="suspended", at=timezone.now())
    for call in (
        lambda: services.points_redeem(customer=sender, points=1, reference="X", on=ON),
        lambda: services.points_transfer(source=sender, target=recipient, points=1, on=ON),
    ):
        with pytest.raises(RuleViolation) as exc:
            call()
        assert exc.value.code == "frozen"
    # a frozen recipient cannot receive either
    services.points_unfreeze(customer=sender)
    services.points_freeze(customer=recipient, reason="pending_closure", at=timezone.now())
    with pytest.raises(RuleViolation) as exc:
        services.points_transfer(source=sender, target=recipient, points=1, on=ON)
    assert exc.value.code == "frozen"
    # unfrozen, it works again; earning never stopped
    services.points_unfreeze(customer=recipient)
    services.points_transfer(source=sender, target=recipient, points=1, on=ON)
    assert balance(recipient) == 1


def test_a_suspended_status_freezes_even_without_the_event(no_rewards):
    # given a customer suspended by another path than the event (e.g. an admin action)
    c = three_years()
    c.status, c.suspension_kind = "suspended", "arrears"
    c.save()
    with pytest.raises(RuleViolation) as exc:
        services.points_redeem(customer=c, points=1, reference="X", on=ON)
    assert exc.value.code == "frozen"


def test_closure_clears_the_balance(no_rewards):
    c = three_years()
    entry = services.points_clear(customer=c, on=ON, at=timezone.now(), reference="event:9")
    assert (entry.kind, entry.amount, entry.balance_after) == ("clear", -600, 0)
    assert balance(c) == 0
    assert all(r == 0 for _y, _k, _o, r, _e in lots(c))
    # a second clear writes nothing
    assert services.points_clear(customer=c, on=ON, at=timezone.now()) is None


def test_the_move_in_creates_the_lots_one_to_one(no_rewards):
    c = with_points(customer(), {dt.date(2026, 1, 1): "10"})
    services.points_move_in(customer=c, lots=[(2025, 700), (2024, 300), (2026, 50)], from_region="北京", on=ON)
    assert lots(c) == [
        (2024, "moved_in", 300, 300, dt.date(2026, 12, 31)),
        (2025, "moved_in", 700, 700, dt.date(2027, 12, 31)),
        (2026, "earn", 10, 10, dt.date(2028, 12, 31)),
        (2026, "moved_in", 50, 50, dt.date(2028, 12, 31)),
    ]
    assert balance(c) == 1060
    moved = PointsEntry.objects.filter(customer=c, kind="transfer_in").order_by("id")
    assert [(e.year, e.amount, e.balance_after) for e in moved] == [
        (2024, 300, 310),
        (2025, 700, 1010),
        (2026, 50, 1060),
    ]


def test_the_move_in_refuses_expired_or_repeated_years(no_rewards):
    c = customer()
    with pytest.raises(InvalidInput) as exc:
        services.points_move_in(customer=c, lots=[(2023, 5), (2025, 1), (2025, 2)], from_region="BJ", on=ON)
    assert set(exc.value.fields["data"]) == {"points_lots[0]", "points_lots[2]"}
    assert not PointsLot.objects.exists()


# -- concurrency (PostgreSQL: real threads, each on its own connection) ----------------------------------------------

# The threaded tests are marked `postgres`: SQLite serialises every writer on one database lock, so threads prove
# nothing there.


def run_threads(n: int, work) -> list:
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            outcomes[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # restores the seed after it
def test_concurrent_redemptions_and_transfers_never_overspend(no_rewards):
    # given 600 points on one account and 8 threads each wanting 100 (4 redemptions, 4 transfers)
    sender = three_years()
    recipients = [customer() for _ in range(4)]

    def spend(i):
        if i % 2:
            return services.points_redeem(
                customer=sender, points=100, reference=f"R{i}", idempotency_key=f"r{i}", on=ON
            )
        return services.points_transfer(
            source=sender, target=recipients[i // 2], points=100, idempotency_key=f"t{i}", on=ON
        )

    outcomes = run_threads(8, spend)
    # then exactly 6 succeed and 2 are refused for insufficient points; nothing is overspent
    refused = [o for o in outcomes if isinstance(o, RuleViolation)]
    assert len(refused) == 2 and {o.code for o in refused} == {"insufficient_points"}, outcomes
    assert balance(sender) == 0
    assert sum(balance(r) for r in recipients) + 100 * PointsEntry.objects.filter(kind="redeem").count() == 600
    assert all(r >= 0 for _y, _k, _o, r, _e in lots(sender))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # restores the seed after it
def test_concurrent_replays_of_one_key_write_once(no_rewards):
    c = three_years()
    outcomes = run_threads(
        4, lambda i: services.points_redeem(customer=c, points=50, reference="R", idempotency_key="same", on=ON)
    )
    assert {o.entry_id for o in outcomes} == {outcomes[0].entry_id}
    assert sorted(o.replayed for o in outcomes) == [False, True, True, True]
    assert balance(c) == 550


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # restores the seed after it
def test_crossed_transfers_do_not_deadlock(no_rewards):
    a, b = three_years(), three_years()
    outcomes = run_threads(
        6,
        lambda i: services.points_transfer(
            source=a if i % 2 else b, target=b if i % 2 else a, points=10, idempotency_key=f"x{i}", on=ON
        ),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert balance(a) == balance(b) == 600


def test_freezing_and_unfreezing_record_who_did_it(no_rewards, django_user_model):
    # given a member and a staff user
    member, staff = customer(), django_user_model.objects.create_user(username="ops")
    # when the staff user freezes her points and a lifecycle event unfreezes them
    account = services.points_freeze(customer=member, reason="suspended", at=timezone.now(), actor=staff)
    services.points_unfreeze(customer=member, actor="evt-7")
    # then the log names both, with the freeze's reason and time
    logged = list(ActionLog.objects.filter(model="pointsaccount", object_id=str(account.pk)).order_by("id"))
    assert [(log.action, log.actor) for log in logged] == [("points_frozen", "ops"), ("points_unfrozen", "evt-7")]
    assert (logged[0].details, logged[0].at) == ({"reason": "suspended"}, account.frozen_at)
