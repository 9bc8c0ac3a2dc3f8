"""Factories of the service app (test support): complaints received through the service (deadlines, owner, steps
and the manager's obligation as in production)."""

import datetime as dt
from zoneinfo import ZoneInfo

from service import services

CLUB = ZoneInfo("Asia/Shanghai")


def club_time(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CLUB)


def receive(customer, *, at: dt.datetime, by=None, category: str = "network", channel: str = "hotline", text="信号差"):
    """A complaint of `customer` received at `at` by `by` (its owner)."""
    return services.complaint_receive(
        customer=customer, channel=channel, category=category, text=text, received_at=at, actor=by, received_by=by
    )


PATHS = {
    "received": [],
    "acknowledged": ["acknowledged"],
    "replied": ["acknowledged", "replied"],
    "escalated": ["escalated"],
    "resolved": ["acknowledged", "replied", "resolved"],
    "reopened": ["acknowledged", "replied", "resolved", "reopened"],
    "closed": ["acknowledged", "replied", "resolved", "closed"],
}


def walk(complaint, to: str, *, at: dt.datetime, actor=None):
    """Move a complaint along the usual path until it is in state `to`, a minute a step from `at`."""
    for i, state in enumerate(PATHS[to]):
        complaint = services.complaint_transition(
            complaint=complaint, to=state, at=at + dt.timedelta(minutes=i + 1), actor=actor
        )
    return complaint


# -- gifts for points -------------------------------------------------------------------------------------------------


def make_gift(code: str = "film", *, points: int = 300, stock: int = 10, delivery: str = "both", tiers=(), **fields):
    """A catalog gift (tiers by code; none: every member)."""
    from service.models import Gift
    from tiers.models import Tier

    fields.setdefault("name_zh", "电影票两张")
    fields.setdefault("name_en", "Two film tickets")
    gift = Gift.objects.create(code=code, points=points, stock=stock, delivery=delivery, **fields)
    if tiers:
        gift.tiers.set(Tier.objects.filter(code__in=tiers))
    return gift


def give_points(customer, lots: list[tuple[int, int]], *, on: dt.date):
    """Points lots [(year, points)] through the ledger (a move-in keeps each year's expiry)."""
    from points import services as points_services

    return points_services.points_move_in(customer=customer, lots=lots, from_region="SZ", on=on)


def place(customer, gift, *, at: dt.datetime, quantity: int = 1, delivery: str = "pickup", actor=None, key=None):
    from service import gift_services

    return gift_services.gift_order_place(
        customer=customer, gift=gift, quantity=quantity, delivery=delivery, at=at, actor=actor, idempotency_key=key
    )
