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
