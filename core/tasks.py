import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import JobHeartbeat
from .outbox_prune import outbox_prune


@shared_task(name="core.heartbeat")
def heartbeat(name: str = "beat") -> str:
    now = timezone.now()
    JobHeartbeat.objects.update_or_create(name=name, defaults={"last_run_at": now})
    return now.isoformat()


@shared_task(name="core.prune_outbox")
def prune_outbox_task() -> int:
    """Delete the outbound events older than VIPCLUB_OUTBOX_KEEP_DAYS."""
    return outbox_prune(before=timezone.now() - dt.timedelta(days=settings.VIPCLUB_OUTBOX_KEEP_DAYS))
