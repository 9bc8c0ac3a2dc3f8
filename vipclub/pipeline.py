"""The monthly pipeline after an applied rating run: rerate → benefits → assign managers → deadlines → credit
stars → the month-end member snapshot and the risk list.

Each step is a service of its app, added as the apps are built; the pipeline records when it finished."""

import logging

from celery import shared_task
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from benefits import services as benefit_services
from core.dates import add_months
from managers import services as manager_services
from points import services as points_services
from retention import services as retention_services
from tiers.models import RatingRun, RunStatus

logger = logging.getLogger(__name__)


def grant_benefits(*, run: RatingRun) -> None:
    """The quotas become the new tiers' (what was used stays used); leavers' quotas expire."""
    benefit_services.benefit_grants_run(on=run.evaluation_date)


def end_assignments_of_leavers(*, run: RatingRun) -> None:
    manager_services.assignments_end_for_leavers(on=run.evaluation_date)


def assign_new_members(*, run: RatingRun) -> None:
    manager_services.assignments_for_new_members(on=run.evaluation_date)


def compute_credit_stars(*, run: RatingRun) -> None:
    points_services.credit_ratings_compute(on=run.evaluation_date, actor="pipeline")


def snapshot_members(*, run: RatingRun) -> None:
    """Members per tier and branch at the end of the month before the run's (the run's changes take effect on its
    evaluation date, so they are not counted), and the snapshot retention of 1 January's members."""
    retention_services.snapshot_month(month=add_months(run.month, -1), on=run.evaluation_date, at=timezone.now())


def refresh_risk(*, run: RatingRun) -> None:
    """The risk list on the new tiers (also refreshed daily by beat)."""
    retention_services.risk_refresh(on=run.evaluation_date)


# Steps run in order with the run; each is idempotent (a re-run of the pipeline changes nothing more).
STEPS: list = [
    grant_benefits,
    end_assignments_of_leavers,
    assign_new_members,
    compute_credit_stars,
    snapshot_members,
    refresh_risk,
]

# One follow-up step at a time, whichever run it belongs to (a transaction-level advisory lock: released at commit or
# when the connection dies, and safe behind a transaction-mode pooler). SQLite serializes writers anyway.
_PIPELINE_LOCK = 7_311_400_613


def _one_step_at_a_time() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PIPELINE_LOCK])


def _followed_up_later(run: RatingRun) -> RatingRun | None:
    """An applied run later than `run` whose follow-up has started or finished: `run`'s would undo part of it."""
    later = (
        RatingRun.objects.filter(dry_run=False, status=RunStatus.DONE)
        .filter(Q(month__gt=run.month) | Q(month=run.month, evaluation_date__gt=run.evaluation_date))
        .exclude(pk=run.pk)
        .order_by("-month", "-evaluation_date")
    )
    return next(
        (
            r
            for r in later.only("pk", "month", "pipeline_done_at", "pipeline_steps")
            if r.pipeline_done_at or r.pipeline_steps
        ),
        None,
    )


@shared_task(name="vipclub.monthly_pipeline")
def monthly_pipeline_task(run_id: int) -> str:
    return monthly_pipeline(run_id=run_id)


def monthly_pipeline(*, run_id: int) -> str:
    """The follow-up of an applied run, once and in order: each step in its own transaction, recorded on the run in
    that transaction, so that a second delivery (a replay, a redelivered message, the frequent check) skips what is
    done and a crashed follow-up resumes after its last step. A run whose follow-up comes after a later run's has
    started does nothing (it would re-date the risk list and re-open expired benefit periods): it is marked done
    with a note. Returns "done", "already done" or "skipped"."""
    for step in STEPS:
        with transaction.atomic():
            _one_step_at_a_time()
            run = RatingRun.objects.select_for_update().get(pk=run_id)
            if run.pipeline_done_at:
                return "already done"
            later = _followed_up_later(run)
            if later is not None:
                run.pipeline_done_at = timezone.now()
                run.pipeline_note = f"skipped: run #{later.pk} of {later.month:%Y-%m} was followed up already"
                run.save(update_fields=["pipeline_done_at", "pipeline_note"])
                logger.warning("Monthly pipeline of run %s skipped: %s", run_id, run.pipeline_note)
                return "skipped"
            if step.__name__ in run.pipeline_steps:
                continue
            step(run=run)
            run.pipeline_steps = [*run.pipeline_steps, step.__name__]
            run.save(update_fields=["pipeline_steps"])
    with transaction.atomic():
        run = RatingRun.objects.select_for_update().get(pk=run_id)
        if run.pipeline_done_at:
            return "already done"
        run.pipeline_done_at = timezone.now()
        run.save(update_fields=["pipeline_done_at"])
    logger.info("Monthly pipeline done for run %s", run_id)
    return "done"


def start_monthly_pipeline(sender, run_id: int, **kwargs):
    """The receiver of `tiers.signals.rating_run_applied` (connected in vipclub/wiring.py)."""
    monthly_pipeline_task.delay(run_id)
