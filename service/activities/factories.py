"""Test support for activities: an activity with its invited tiers, published through the service (invitations
opened as in production)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from tiers.models import Tier

from . import services
from .models import Activity, ActivityKind, ActivityTierQuota

CLUB = ZoneInfo("Asia/Shanghai")
OPENS = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CLUB)


def make_activity(
    *,
    title: str = "VIP讲堂：家庭理财",
    capacity: int = 20,
    quotas: dict[str, int | None] | None = None,
    region=None,
    opens: dt.datetime = OPENS,
    closes: dt.datetime | None = None,
    starts: dt.datetime | None = None,
    cost: str = "120.00",
    kind: str = ActivityKind.LECTURE,
    publish: bool = True,
    actor=None,
) -> Activity:
    """An activity (sign-up open `opens` → `closes`, default 10 days; held 3 days after) inviting `quotas`
    ({tier code: seats or None}; default gold 5 seats, diamond and silver no quota of their own)."""
    closes = closes or opens + dt.timedelta(days=10)
    starts = starts or closes + dt.timedelta(days=3)
    activity = Activity.objects.create(
        title=title,
        kind=kind,
        starts_at=starts,
        place="广州天河 全球通VIP厅",
        region=region,
        capacity=capacity,
        signup_opens_at=opens,
        signup_closes_at=closes,
        cost_per_head=Decimal(cost),
    )
    tiers = {t.code: t for t in Tier.objects.all()}
    for code, seats in (quotas if quotas is not None else {"diamond": None, "gold": 5, "silver": None}).items():
        ActivityTierQuota.objects.create(activity=activity, tier=tiers[code], seats=seats)
    if publish:
        services.activity_publish(activity=activity, at=opens, actor=actor)
        activity.refresh_from_db()
    return activity
