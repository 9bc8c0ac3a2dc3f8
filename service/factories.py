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


def members(n: int, *, region, tier_code: str = "gold") -> list:
    """`n` members of `region` in tier `tier_code` (the tier state written directly, as the rating engine would)."""
    from customers.factories import CustomerFactory
    from tiers.models import CustomerTier, Tier

    tier = Tier.objects.get(code=tier_code)
    customers = CustomerFactory.create_batch(n, region=region)
    CustomerTier.objects.bulk_create([CustomerTier(customer=c, tier=tier, source="score") for c in customers])
    return customers


def answered(customer, *, on: dt.date, score: int, manager=None, trigger: str = "sample", channel: str = "sms"):
    """A survey sent to `customer` on `on` (at her branch, tier and `manager`) and her answer `score` the next day."""
    from service import surveys
    from service.models import Survey, SurveySend

    tier_id = getattr(getattr(customer, "tier_state", None), "tier_id", None)
    SurveySend.objects.create(
        survey=Survey.objects.get(trigger=trigger),
        customer=customer,
        trigger=trigger,
        reference=f"{trigger}:{on.isoformat()}",
        region_id=customer.region_id,
        tier_id=tier_id,
        manager=manager,
        sent_on=on,
        sent_at=club_time(on, 9),
    )
    return surveys.survey_answer(
        customer=customer,
        score=score,
        answered_at=club_time(on + dt.timedelta(days=1), 10),
        actor=None,
        channel=channel,
    )


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
