"""The transactional outbox (DOMAIN §11): `emit` writes one outbound event in the caller's transaction. Set-based
writers (a rating run's changes, grants, the November points list) insert into `OutboxEvent`'s table with
`INSERT … SELECT` in their own statement, in the same transaction as the change."""

import datetime as dt

from .models import OutboxEvent


def emit(
    *, type: str, msisdn: str, occurred_at: dt.datetime, data: dict, customer_id: int | None = None
) -> OutboxEvent:
    """One event of `type` about the customer `msisdn` (with `customer_id` when known), in the caller's transaction."""
    return OutboxEvent.objects.create(
        type=type, customer_id=customer_id, msisdn=msisdn, occurred_at=occurred_at, data=data
    )
