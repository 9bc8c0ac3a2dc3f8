import sys
import time

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from customers.rules import parse_month
from tiers import selectors, services
from tiers.models import RatingPolicy, RunStatus


def progress_bar(done: int, total: int, started: float, width: int = 30) -> str:
    share = done / total if total else 1.0
    filled = int(width * share)
    return f"\r[{'#' * filled}{'-' * (width - filled)}] {share:6.1%} {done:,}/{total:,} customers {time.monotonic() - started:6.1f}s"


class Command(BaseCommand):
    help = "Re-rate every customer for a month (DOMAIN §3), here in this process or on the Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM, the run's month M")
        parser.add_argument("--dry-run", action="store_true", help="compute what would change, change nothing")
        parser.add_argument("--force", action="store_true", help="run although month M-1 is not closed")
        parser.add_argument("--policy", help="policy code (default: the active policy)")
        parser.add_argument(
            "--draft-threshold",
            action="append",
            default=[],
            metavar="TIER=VALUE",
            help="dry runs: try another threshold, e.g. --draft-threshold diamond=5000",
        )
        parser.add_argument("--workers", type=int, default=1, help="threads evaluating chunks here (default 1)")
        parser.add_argument("--celery", action="store_true", help="dispatch the chunks to Celery and follow progress")
        parser.add_argument("--resume", type=int, metavar="RUN_ID", help="finish a failed or interrupted run")

    def handle(self, *args, **opts):
        try:
            run = self._run(opts)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        counts = ", ".join(f"{k} {v:,}" for k, v in run.counts.items() if v) or "no customers"
        if run.status != RunStatus.DONE:
            raise CommandError(f"Run #{run.pk} is {run.status}: {run.error}")
        seconds = run.duration_seconds or 0
        self.stdout.write(
            self.style.SUCCESS(
                f"Run #{run.pk} ({'dry run' if run.dry_run else 'applied'}) done in {seconds:.1f}s: {counts}"
            )
        )

    def _run(self, opts):
        if opts["resume"]:
            run = selectors.run_get(opts["resume"])
            run = services.tier_run_resume(run=run, dispatch=opts["celery"])
        else:
            if not opts["month"]:
                raise CommandError("--month YYYY-MM is required (or --resume RUN_ID).")
            try:
                month = parse_month(opts["month"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            policy = None
            if opts["policy"]:
                policy = RatingPolicy.objects.filter(code=opts["policy"]).first()
                if policy is None:
                    raise CommandError(f"No rating policy {opts['policy']!r}.")
            draft = None
            if opts["draft_threshold"]:
                try:
                    draft = {"thresholds": dict(item.split("=", 1) for item in opts["draft_threshold"])}
                except ValueError as exc:
                    raise CommandError("--draft-threshold takes TIER=VALUE.") from exc
            run, created = services.tier_run_start(
                month=month,
                policy=policy,
                dry_run=opts["dry_run"],
                force=opts["force"],
                draft=draft,
                dispatch=opts["celery"],
            )
            if not created:
                self.stdout.write(f"Run #{run.pk} for {opts['month']} exists already ({run.status}).")
                if run.status == RunStatus.DONE:
                    return run
        started = time.monotonic()
        err = sys.stderr

        def show():
            run.refresh_from_db(fields=["progress_done", "progress_total", "status"])
            err.write(progress_bar(run.progress_done, run.progress_total, started))
            err.flush()

        if opts["celery"]:
            while True:
                show()
                if run.status in (RunStatus.DONE, RunStatus.FAILED):
                    break
                time.sleep(1)
        else:
            run = services.tier_run_execute(run=run, workers=max(1, opts["workers"]), on_progress=show)
            show()
        err.write("\n")
        run.refresh_from_db()
        return run
