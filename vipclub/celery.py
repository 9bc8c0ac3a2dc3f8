"""The Celery app. The beat schedule lives here, in code (one beat process)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")

app = Celery("vipclub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Proves the scheduler and a worker are alive; /api/v1/health/ shows the last beat.
    "heartbeat": {"task": "core.heartbeat", "schedule": crontab(minute="*")},
}
