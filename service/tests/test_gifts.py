"""Gifts for points (DOMAIN §10): ordering redeems FIFO and takes stock, both or neither; every transition legal and
illegal; a cancelled order returns the points to their lots with their original expiry; arrival tells the member (SMS)
and her manager; a voucher's deadline is extended with a reason."""

import datetime as dt

import pytest

from core.errors import InvalidInput, RuleViolation
from core.models import ActionLog, OutboxEvent
from managers.models import AccountManager, Notification
from managers.tests.helpers import make_manager, make_member
from points import services as points_services
from points.tests.helpers import assert_ledger_sound, balance, lots
from service import gift_rules, gift_services
from service.factories import club_time, give_points, make_gift, place
from service.models import Gift, GiftOrder

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)
AT = club_time(DAY, 10)


@pytest.fixture
def member():
    manager = make_manager("AM1")
    member = make_member(tier="gold", manager=manager, msisdn="13900000001", name="王芳")
    # 2024's points expire on 31 Dec 2026, 2025's in 2027, 2026's in 2028
    give_points(member, [(2024, 200), (2025, 500), (2026, 1000)], on=DAY)
    return member


def remaining(customer) -> list[tuple[int, int, dt.date]]:
    return [(year, left, expires) for year, _kind, _original, left, expires in lots(customer)]


def test_an_order_redeems_the_oldest_points_first_and_takes_the_stock(member):
    # given a gift of 300 points with 10 in stock
    gift = make_gift(points=300, stock=10)
    # when she orders 2 (600 points)
    order = place(member, gift, at=AT, quantity=2)
    # then the 200 of 2024 and 400 of 2025 are gone, 8 are left in stock, the answer carries her balance
    assert (order.points, order.balance, order.state) == (600, 1100, "placed")
    assert remaining(member) == [
        (2024, 0, dt.date(2026, 12, 31)),
        (2025, 100, dt.date(2027, 12, 31)),
        (2026, 1000, dt.date(2028, 12, 31)),
    ]
    assert Gift.objects.get(pk=gift.pk).stock == 8
    assert_ledger_sound()
    # and the change is audited, in the order's history and told (gift_order.changed)
    assert ActionLog.objects.filter(action="gift_order_placed", object_id=str(order.pk)).exists()
    assert [s.to_state for s in order.steps.all()] == ["placed"]
    event = OutboxEvent.objects.get(type="gift_order.changed")
    assert (event.data["status"], event.data["gift"], event.data["tier"]) == ("placed", "film", "gold")


def test_a_cancelled_order_restores_the_original_lots_and_expiries(member):
    # given her lots, and an order that took all of 2024's, all of 2025's and some of 2026's
    before = remaining(member)
    gift = make_gift(points=400, stock=5)
    order = place(member, gift, at=AT, quantity=2)
    assert remaining(member)[:2] == [(2024, 0, dt.date(2026, 12, 31)), (2025, 0, dt.date(2027, 12, 31))]
    # when the order is cancelled a day later
    gift_services.gift_order_transition(order=order, to="cancelled", at=AT + dt.timedelta(days=1), actor=None)
    # then every lot holds again what it held, with its own expiry, her balance is whole, the stock back
    assert remaining(member) == before
    assert balance(member) == 1700
    assert Gift.objects.get(pk=gift.pk).stock == 5
    assert_ledger_sound()
    # and the 2024 points still expire on 31 Dec 2026: the year-end expiry takes them
    points_services.points_expire(on=dt.date(2026, 12, 31))
    assert balance(member) == 1500
    assert_ledger_sound()


def test_points_whose_lot_expired_meanwhile_come_back_expired(member):
    # given an order that took 2024's 200 points (expiring 31 Dec 2026)
    order = place(member, make_gift(points=200), at=AT)
    # when it is cancelled in January 2027, after the 2024 lot expired
    gift_services.gift_order_transition(order=order, to="cancelled", at=club_time(dt.date(2027, 1, 5)), actor=None)
    # then they are returned and expire at once: no second life, the ledger sound
    assert balance(member) == 1500
    assert remaining(member)[0] == (2024, 0, dt.date(2026, 12, 31))
    assert_ledger_sound()


@pytest.mark.parametrize(
    "delivery, path",
    [("pickup", ["shipped", "arrived", "collected"]), ("mail", ["mailed", "received"])],
)
def test_every_legal_move_along_each_path(member, delivery, path):
    order = place(member, make_gift(), at=AT, delivery=delivery)
    for i, state in enumerate(path, start=1):
        order = gift_services.gift_order_transition(order=order, to=state, at=AT + dt.timedelta(hours=i), actor=None)
        assert order.state == state
    assert [s.to_state for s in order.steps.order_by("at", "id")] == ["placed", *path]


ALL = list(gift_rules.STATES)
LEGAL = {
    ("pickup", "placed"): {"shipped", "cancelled"},
    ("pickup", "shipped"): {"arrived", "cancelled"},
    ("pickup", "arrived"): {"collected", "cancelled"},
    ("pickup", "collected"): set(),
    ("pickup", "cancelled"): set(),
    ("mail", "placed"): {"mailed", "cancelled"},
    ("mail", "mailed"): {"received"},
    ("mail", "received"): set(),
    ("mail", "cancelled"): set(),
}
PATH_TO = {
    "placed": [],
    "shipped": ["shipped"],
    "arrived": ["shipped", "arrived"],
    "collected": ["shipped", "arrived", "collected"],
    "mailed": ["mailed"],
    "received": ["mailed", "received"],
    "cancelled": ["cancelled"],
}


@pytest.mark.parametrize("delivery, state", list(LEGAL))
def test_every_transition_legal_and_illegal(member, delivery, state):
    # given an order in `state`
    gift = make_gift(stock=100)
    order = place(member, gift, at=AT, delivery=delivery)
    for i, step in enumerate(PATH_TO[state], start=1):
        order = gift_services.gift_order_transition(order=order, to=step, at=AT + dt.timedelta(minutes=i), actor=None)
    later = AT + dt.timedelta(hours=1)
    for to in ALL:
        if to in LEGAL[(delivery, state)]:
            continue
        # when an illegal move is asked, then a 409 naming the allowed moves, and nothing changes
        with pytest.raises(RuleViolation) as exc:
            gift_services.gift_order_transition(order=order, to=to, at=later, actor=None)
        assert exc.value.code == "invalid_transition"
        assert set(exc.value.fields["allowed"]) == LEGAL[(delivery, state)]
        assert GiftOrder.objects.get(pk=order.pk).state == state
    # and every legal one works (each on a fresh order in the same state)
    assert set(gift_rules.allowed_transitions(delivery, state)) == LEGAL[(delivery, state)]
    for to in LEGAL[(delivery, state)]:
        fresh = place(member, gift, at=AT, delivery=delivery)
        for i, step in enumerate(PATH_TO[state], start=1):
            fresh = gift_services.gift_order_transition(
                order=fresh, to=step, at=AT + dt.timedelta(minutes=i), actor=None
            )
        assert gift_services.gift_order_transition(order=fresh, to=to, at=later, actor=None).state == to
    assert_ledger_sound()


def test_refusals_change_nothing(member):
    gift = make_gift(points=300, stock=1)
    # out of stock: 2 wanted, 1 left → 409, no points taken
    with pytest.raises(RuleViolation) as exc:
        place(member, gift, at=AT, quantity=2)
    assert exc.value.code == "out_of_stock"
    assert balance(member) == 1700 and GiftOrder.objects.count() == 0
    # insufficient points
    with pytest.raises(RuleViolation) as exc:
        place(member, make_gift("phone", points=5000), at=AT)
    assert exc.value.code == "insufficient_points"
    # a tier the gift is not for
    with pytest.raises(RuleViolation) as exc:
        place(member, make_gift("lounge", tiers=["diamond"]), at=AT)
    assert exc.value.code == "not_entitled"
    # a delivery the gift does not offer, a bad quantity: 400 naming them
    with pytest.raises(InvalidInput) as exc:
        place(member, make_gift("mailonly", delivery="mail"), at=AT, quantity=0, delivery="pickup")
    assert set(exc.value.fields) == {"quantity", "delivery"}
    # frozen (suspended)
    points_services.points_freeze(customer=member, reason="suspended", at=AT)
    with pytest.raises(RuleViolation) as exc:
        place(member, gift, at=AT)
    assert exc.value.code == "frozen"
    assert Gift.objects.get(pk=gift.pk).stock == 1 and balance(member) == 1700
    assert GiftOrder.objects.count() == 0
    assert_ledger_sound()


def test_a_replayed_key_returns_the_first_order(member):
    gift = make_gift(stock=5)
    first = place(member, gift, at=AT, key="k1")
    again = place(member, gift, at=AT, key="k1")
    assert again.pk == first.pk and again.replayed
    assert GiftOrder.objects.count() == 1 and Gift.objects.get(pk=gift.pk).stock == 4
    with pytest.raises(RuleViolation) as exc:
        place(member, gift, at=AT, key="k1", quantity=2)
    assert exc.value.code == "idempotency_key_reused"


def test_arrival_tells_the_member_and_her_manager(member):
    # given an order for pickup, shipped to the hall
    order = place(member, make_gift(), at=AT)
    order = gift_services.gift_order_transition(order=order, to="shipped", at=AT + dt.timedelta(hours=1), actor=None)
    # when it arrives at 15:00
    gift_services.gift_order_transition(order=order, to="arrived", at=club_time(DAY, 15), actor=None)
    # then the event partners turns into her "gift arrived" SMS is written (partners/tests/test_sms_gifts.py), and
    # her manager is notified
    event = OutboxEvent.objects.filter(type="gift_order.changed").latest("id")
    assert (event.data["status"], event.data["gift_zh"], event.msisdn) == ("arrived", "电影票两张", member.msisdn)
    note = Notification.objects.get(kind=f"gift:{order.pk}:arrived")
    assert "电影票两张" in note.text and note.user == AccountManager.objects.get(employee_no="AM1").user


def test_a_voucher_deadline_is_extended_with_a_reason(member):
    # given a voucher valid 30 days after the order
    order = place(member, make_gift("voucher", voucher_valid_days=30), at=AT)
    assert order.voucher_valid_until == DAY + dt.timedelta(days=30)
    until = DAY + dt.timedelta(days=37)
    # a reason is required, and the new date must be later
    with pytest.raises(InvalidInput) as exc:
        gift_services.gift_voucher_extend(order=order, until=until, reason=" ", at=AT, actor=None)
    assert set(exc.value.fields) == {"reason"}
    with pytest.raises(InvalidInput):
        gift_services.gift_voucher_extend(order=order, until=DAY, reason="complaint #1", at=AT, actor=None)
    # when staff extend it by 7 days after a complaint
    order = gift_services.gift_voucher_extend(order=order, until=until, reason="complaint #1", at=AT, actor=None)
    # then the deadline moved, the step and the audit row say why
    assert GiftOrder.objects.get(pk=order.pk).voucher_valid_until == until
    assert "complaint #1" in order.steps.get(action="extended").note
    assert ActionLog.objects.filter(action="gift_voucher_extended").exists()
    # and a gift that is no voucher is refused
    plain = place(member, make_gift("plain"), at=AT)
    with pytest.raises(RuleViolation) as exc:
        gift_services.gift_voucher_extend(order=plain, until=until, reason="x", at=AT, actor=None)
    assert exc.value.code == "not_a_voucher"


def test_arrival_puts_telling_her_on_her_managers_desk_until_she_has_it(member):
    from managers import services as manager_services
    from managers.models import Obligation

    # given two orders for pickup, shipped to the hall
    orders = []
    for i in range(2):
        order = place(member, make_gift(f"g{i}"), at=AT)
        orders.append(
            gift_services.gift_order_transition(order=order, to="shipped", at=AT + dt.timedelta(hours=1), actor=None)
        )
    # when both arrive on Friday 20 November at 15:00
    for order in orders:
        gift_services.gift_order_transition(order=order, to="arrived", at=club_time(DAY, 15), actor=None)
    # then her manager owes her the news for each, due at once (that day), naming the gift
    owed = {o.period: o for o in Obligation.objects.filter(kind="gift_arrived")}
    assert set(owed) == {f"gift{orders[0].pk}", f"gift{orders[1].pk}"}
    first = owed[f"gift{orders[0].pk}"]
    assert first.manager.employee_no == "AM1" and first.status == "open"
    assert first.due_on == DAY and "电影票两张" in first.note
    # and the notification leads to the order on her desk
    note = Notification.objects.get(kind=f"gift:{orders[0].pk}:arrived")
    assert note.link == f"/dashboard/gifts/{orders[0].pk}/"
    # when she calls the member and reaches her, the news is told: the first obligation closes (both, one call)
    _log, closed = manager_services.contact_log(
        customer=member, channel="call", outcome="reached", occurred_at=club_time(DAY, 16), actor=None
    )
    assert {o.period for o in Obligation.objects.filter(pk__in=closed)} == set(owed)
    # and a gift arriving on Saturday is due on Monday, the next working day
    weekend = move_along(
        place(member, make_gift("w"), at=AT), "shipped", "arrived", at=club_time(dt.date(2026, 11, 21), 11)
    )
    assert Obligation.objects.get(period=f"gift{weekend.pk}").due_on == dt.date(2026, 11, 23)
    # and when an order is handed over before any call, or cancelled, its obligation is done or no longer owed
    later = [place(member, make_gift(f"h{i}"), at=AT) for i in range(2)]
    for order in later:
        for i, state in enumerate(("shipped", "arrived"), start=1):
            order = gift_services.gift_order_transition(
                order=order, to=state, at=AT + dt.timedelta(hours=i), actor=None
            )
    gift_services.gift_order_transition(order=later[0], to="collected", at=club_time(DAY, 17), actor=None)
    gift_services.gift_order_transition(order=later[1], to="cancelled", at=club_time(DAY, 17), actor=None)
    status = dict(Obligation.objects.filter(period__in=[f"gift{o.pk}" for o in later]).values_list("period", "status"))
    assert status == {f"gift{later[0].pk}": "done", f"gift{later[1].pk}": "cancelled"}


def move_along(order, *states, at):
    for i, state in enumerate(states):
        order = gift_services.gift_order_transition(order=order, to=state, at=at + dt.timedelta(minutes=i), actor=None)
    return order
