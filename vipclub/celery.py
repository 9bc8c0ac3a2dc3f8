"""The Celery app. The beat schedule lives here, in code (run exactly one beat process)."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging

from core.logging import celery_keep_django_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")

app = Celery("vipclub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Worker and beat log through settings.LOGGING, whose handlers mask msisdns and ID numbers (core.logging).
setup_logging.connect(celery_keep_django_logging)


@app.on_after_configure.connect
def beat_schedule(sender, **kwargs):
    from django.conf import settings

    sender.conf.beat_schedule = {
        # Proves the scheduler and a worker are alive; /api/v1/health/ shows the last beat.
        "heartbeat": {"task": "core.heartbeat", "schedule": crontab(minute="*")},
        # Starts each active policy's monthly run once its run day has come (retrying daily while last
        # month's billing is not closed) and resumes runs that stopped. Default 03:00 Asia/Shanghai.
        # Period start: opens the month's (in January also the year's) benefit accounts, expires the rest.
        "benefit-period-grants": {
            "task": "benefits.grant_period",
            "schedule": crontab(minute=10, hour=0, day_of_month=1),
        },
        # Obligations due, overdue marking, digests: after the 03:00 rating run and its pipeline.
        "managers-daily": {"task": "managers.run_daily", "schedule": crontab(minute=0, hour=6)},
        # The retention risk list (falling spend, suspensions, arrears, closure requests, overdue contacts): after
        # the daily job has marked today's overdue obligations.
        "retention-risk-refresh": {"task": "retention.refresh_risk", "schedule": crontab(minute=30, hour=6)},
        # 3-year rolling clearance of the lots expiring on 31 December; the November expiring list.
        "points-year-end-expiry": {
            "task": "points.expire_year_end",
            "schedule": crontab(minute=50, hour=23, day_of_month=31, month_of_year=12),
        },
        "points-expiring-list": {
            "task": "points.expiring_list",
            "schedule": crontab(minute=0, hour=7, day_of_month=1, month_of_year=11),
        },
        "monthly-rerate": {
            "task": "tiers.scheduled_rerate",
            "schedule": crontab(minute=0, hour=settings.VIPCLUB_RERATE_HOUR),
        },
    }
