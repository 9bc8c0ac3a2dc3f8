"""Test factories of partner systems: an endpoint, events in the outbox."""

import datetime as dt

from django.utils import timezone

from core.outbox import emit

from . import services
from .models import WebhookEndpoint


def endpoint(*, url: str, types=("tier.changed",), at: dt.datetime | None = None) -> WebhookEndpoint:
    return services.endpoint_create(url=url, types=list(types), actor=None, at=at or timezone.now())


def tier_event(customer_id: int, n: int, *, type: str = "tier.changed"):
    """The n-th event of a customer (msisdn 1390000xxxx)."""
    return emit(
        type=type,
        customer_id=customer_id,
        msisdn=f"139{customer_id:08d}",
        occurred_at=timezone.now(),
        data={"from_tier": "gold", "to_tier": "platinum", "n": n},
    )
