"""The monthly pipeline after an applied rating run: rerate → benefits → assign managers → deadlines → credit
stars → the month-end member snapshot and the risk list.

Each step is a service of its app, added as the apps are built; the pipeline records when it finished."""

import logging

from celery import shared_task
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from benefits import services as benefit_services
from customers.rules import add_months
from managers import services as manager_services
from points import services as points_services
from retention import services as retention_services
from tiers.models import RatingRun
from tiers.signals import rating_run_applied

from . import workflows  # noqa: F401  (connects the customer lifecycle to retention's port at start-up)

logger = logging.getLogger(__name__)


def grant_benefits(*, run: RatingRun) -> None:
    """The quotas become the new tiers' (what was used stays used); leavers' quotas expire."""
    benefit_services.benefit_grants_run(as_of=run.evaluation_date)


def end_assignments_of_leavers(*, run: RatingRun) -> None:
    manager_services.assignments_end_for_leavers(on=run.evaluation_date)


def assign_new_members(*, run: RatingRun) -> None:
    manager_services.assignments_for_new_members(on=run.evaluation_date)


def compute_credit_stars(*, run: RatingRun) -> None:
    points_services.credit_ratings_compute(on=run.evaluation_date, actor="pipeline")


def snapshot_members(*, run: RatingRun) -> None:
    """Members per tier and branch at the end of the month before the run's (the run's changes take effect on its
    evaluation date, so they are not counted), and the snapshot retention of 1 January's members."""
    retention_services.snapshot_month(month=add_months(run.month, -1), today=run.evaluation_date)


def refresh_risk(*, run: RatingRun) -> None:
    """The risk list on the new tiers (also refreshed daily by beat)."""
    retention_services.risk_refresh(as_of=run.evaluation_date)


# Steps run in order with the run; each is idempotent (a re-run of the pipeline changes nothing more).
STEPS: list = [
    grant_benefits, end_assignments_of_leavers, assign_new_members, compute_credit_stars, snapshot_members,
    refresh_risk,
]  # fmt: skip


@shared_task(name="vipclub.monthly_pipeline")
def monthly_pipeline_task(run_id: int) -> None:
    monthly_pipeline(run_id=run_id)


def monthly_pipeline(*, run_id: int) -> None:
    run = RatingRun.objects.get(pk=run_id)
    for step in STEPS:
        with transaction.atomic():
            step(run=run)
    RatingRun.objects.filter(pk=run_id).update(pipeline_done_at=timezone.now())
    logger.info("Monthly pipeline done for run %s", run_id)


@receiver(rating_run_applied)
def _start_pipeline(sender, run_id: int, **kwargs):
    monthly_pipeline_task.delay(run_id)
