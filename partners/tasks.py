"""The webhook delivery as Celery tasks: beat sends `partners.deliver` every VIPCLUB_WEBHOOK_TICK seconds (expiring
after one tick, so a busy queue never piles them up). A task takes one of VIPCLUB_WEBHOOK_PARALLEL slots (a cache
key) or ends at once; it fans out, sends batches for up to VIPCLUB_WEBHOOK_TASK_BUDGET seconds, and while there is
more it asks for a sibling (up to the slot count: that many workers share the endpoints' batches through SKIP
LOCKED) and for its own follow-up. A task per tick and worker, never one per event."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from . import delivery, prune, sms, sms_rules


def _take_slot() -> str | None:
    for i in range(settings.VIPCLUB_WEBHOOK_PARALLEL):
        key = f"partners:deliver:slot:{i}"
        if cache.add(key, 1, timeout=settings.VIPCLUB_WEBHOOK_TASK_BUDGET + settings.VIPCLUB_WEBHOOK_TIMEOUT + 30):
            return key
    return None


@shared_task(name="partners.deliver", acks_late=True, ignore_result=True)
def deliver_task(spawn: bool = True) -> dict | None:
    slot = _take_slot()
    if slot is None:
        return None
    try:
        if spawn and settings.VIPCLUB_WEBHOOK_PARALLEL > 1:
            deliver_task.apply_async(kwargs={"spawn": False}, expires=settings.VIPCLUB_WEBHOOK_TICK)
        stats = delivery.deliver(clock=timezone.now, budget=settings.VIPCLUB_WEBHOOK_TASK_BUDGET)
    finally:
        cache.delete(slot)
    if stats.get("more"):
        deliver_task.apply_async(expires=settings.VIPCLUB_WEBHOOK_TICK)
    return stats


@shared_task(name="partners.prune_deliveries", ignore_result=True)
def prune_deliveries_task() -> int:
    """Delete the settled deliveries older than VIPCLUB_WEBHOOK_LOG_KEEP_DAYS (the delivery log's daily pruning)."""
    before = timezone.now() - dt.timedelta(days=settings.VIPCLUB_WEBHOOK_LOG_KEEP_DAYS)
    return prune.deliveries_prune(before=before)


@shared_task(name="partners.request_sms", ignore_result=True)
def request_sms_task() -> int:
    """The SMS of the settled outbox events (partners.sms), every tick beside the webhooks."""
    return sms.sms_from_events(at=timezone.now())


@shared_task(name="partners.daily_sms", ignore_result=True)
def daily_sms_task(on: str | None = None) -> dict:
    """The day's birthday, card and November points SMS (partners.sms.sms_daily) for `on` (ISO; default today)."""
    day = dt.date.fromisoformat(on) if on else timezone.localdate(timezone=sms_rules.TZ)
    return sms.sms_daily(on=day, at=timezone.now())
