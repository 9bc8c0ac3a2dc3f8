from celery import shared_task
from django.utils import timezone

from .models import JobHeartbeat


@shared_task(name="core.heartbeat")
def heartbeat(name: str = "beat") -> str:
    now = timezone.now()
    JobHeartbeat.objects.update_or_create(name=name, defaults={"last_run_at": now})
    return now.isoformat()
