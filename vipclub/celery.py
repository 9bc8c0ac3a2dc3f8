"""The Celery app. The beat schedule lives here, in code (run exactly one beat process)."""

import logging
import os
import threading

from celery import Celery, bootsteps
from celery.schedules import crontab
from celery.signals import setup_logging, worker_ready

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
        # Self-healing: runs with no progress for VIPCLUB_RUN_STALLED_AFTER seconds (a worker killed mid-run) or never
        # dispatched (the broker was down) get their unfinished chunks sent again; unfinished follow-ups too.
        "heal-runs": {"task": "tiers.heal_runs", "schedule": crontab(minute="*/2")},
        # Webhooks: fan the outbox out to the endpoints and send what is due (partners.tasks), every few seconds.
        "webhooks-deliver": {
            "task": "partners.deliver",
            "schedule": settings.VIPCLUB_WEBHOOK_TICK,
            "options": {"expires": settings.VIPCLUB_WEBHOOK_TICK},
        },
        # Member SMS: the settled events' SMS (tier up/down, tier expiring) every tick; the day's birthday, card and
        # November points SMS at 07:30, before the 08:00 end of the quiet hours (partners.sms).
        "sms-requested": {
            "task": "partners.request_sms",
            "schedule": settings.VIPCLUB_WEBHOOK_TICK,
            "options": {"expires": settings.VIPCLUB_WEBHOOK_TICK},
        },
        "sms-daily": {"task": "partners.daily_sms", "schedule": crontab(minute=30, hour=7)},
        # Starts each active policy's monthly run once its run day has come (retrying daily while last
        # month's billing is not closed) and resumes runs that stopped. Default 03:00 Asia/Shanghai.
        # Period start: opens the month's (in January also the year's) benefit accounts, expires the rest.
        "benefit-period-grants": {
            "task": "benefits.grant_period",
            "schedule": crontab(minute=10, hour=0, day_of_month=1),
        },
        # Obligations due, overdue marking, digests: after the 03:00 rating run and its pipeline.
        "managers-daily": {"task": "managers.run_daily", "schedule": crontab(minute=0, hour=6)},
        # Complaints late for a deadline (acknowledge 2 h, reply 48 h, resolve 5 working days) escalate to the supervisor.
        "service-escalate": {"task": "service.escalate_late", "schedule": crontab(minute="*/10")},
        # Satisfaction surveys: closed retention cases, completed first contacts, the quarterly sample (before 07:30's SMS).
        "service-surveys-daily": {"task": "service.surveys_daily", "schedule": crontab(minute=0, hour=7)},
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
        # Outbound events older than VIPCLUB_OUTBOX_KEEP_DAYS (API.md: the feed keeps 30 days).
        "outbox-prune": {"task": "core.prune_outbox", "schedule": crontab(minute=30, hour=4)},
        # The webhook delivery log: settled deliveries older than VIPCLUB_WEBHOOK_LOG_KEEP_DAYS.
        "webhooks-log-prune": {"task": "partners.prune_deliveries", "schedule": crontab(minute=40, hour=4)},
        "monthly-rerate": {
            "task": "tiers.scheduled_rerate",
            "schedule": crontab(minute=0, hour=settings.VIPCLUB_RERATE_HOUR),
        },
    }


logger = logging.getLogger(__name__)


def record_worker_heartbeat() -> None:
    """The `worker` heartbeat that /api/v1/health/ shows: written by every worker's own thread, whatever it runs."""
    from django.db import connection

    from core.tasks import heartbeat

    try:
        heartbeat(name="worker")
    except Exception:  # noqa: BLE001 - a database hiccup must not stop the worker; health shows the heartbeat stale
        logger.warning("Worker heartbeat not recorded", exc_info=True)
    finally:
        if not connection.in_atomic_block:
            connection.close()  # one short connection a beat, not one held for the worker's life


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Every VIPCLUB_WORKER_HEARTBEAT seconds, in a thread of the worker's main process (not a task slot, so a long
    task does not hold it up; its own short database connection), from the pool's start to the worker's stop."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs):
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, worker):
        from django.conf import settings

        def beat():
            while True:
                record_worker_heartbeat()
                if self.stopped.wait(settings.VIPCLUB_WORKER_HEARTBEAT):
                    return

        self.stopped.clear()
        self.thread = threading.Thread(target=beat, name="vipclub-worker-heartbeat", daemon=True)
        self.thread.start()

    def stop(self, worker):
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None


app.steps["worker"].add(WorkerHeartbeat)


@worker_ready.connect
def heal_runs_on_worker_start(sender=None, **kwargs):
    """A worker that (re)starts sends the check at once, without waiting for stalled runs to look stale: a worker
    killed mid-run left its messages unacknowledged in the broker until the visibility timeout, and the run goes on
    within seconds of a worker's return. A chunk sent twice is done once."""
    from tiers.tasks import heal_runs_task

    try:
        heal_runs_task.apply_async(kwargs={"stalled_after": 0})
    except Exception:  # noqa: BLE001 - the beat check follows within minutes
        logger.warning("Could not send the run check at worker start", exc_info=True)
