import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core import bounds
from core.dates import add_months
from customers.models import Customer
from managers.daily import daily_run
from tiers import rules as tier_rules
from tiers import services as tier_services
from vipclub import demo
from vipclub.pipeline import monthly_pipeline


def _date(value: str) -> dt.date:
    try:
        return bounds.parse_date(value)
    except bounds.BoundsError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo club: regions, customers, 24 months of bills (closed), corporate "
        "groups with key persons, a few suspensions, and demo logins with random passwords (printed and written "
        "to var/demo-logins.txt)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="how many customers (default 2000)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any customer exists")
        parser.add_argument(
            "--date", "--as-of", dest="on", type=_date, help="the demo's today, YYYY-MM-DD (default: today in Shanghai)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same club")

    def handle(self, *args, customers, if_empty, on, seed, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        existing = Customer.objects.count()
        if existing:
            if not if_empty:
                raise CommandError(
                    f"The database already holds {existing} customers; seed_demo fills an empty club. "
                    "Use --if-empty to skip quietly, or `manage.py flush` first."
                )
            self.stdout.write(f"{existing} customers exist already: nothing seeded.")
            path = demo.demo_logins_path()
            if path.exists():
                self.stdout.write(f"Demo logins ({path}):")
                self.stdout.write(path.read_text(encoding="utf-8"))
            return

        on = on or demo.club_today()
        started = time.monotonic()
        self.stdout.write(f"Seeding a demo club of {customers} customers as of {on} (seed {seed})…")
        club = demo.demo_club_build(customers=customers, as_of=on, seed=seed)
        with transaction.atomic():
            demo.demo_club_load(club, log=self.stdout.write)
            logins = demo.demo_users_create()
        self.stdout.write(f"  ({time.monotonic() - started:.1f} s)")
        rating = time.monotonic()
        self._rate(on, seed)
        self.stdout.write(f"  ({time.monotonic() - rating:.1f} s)")
        self._lap = time.monotonic()
        self._report("contact history", demo.demo_contacts_load(as_of=on, seed=seed))
        # obligations due today, overdue ones, digests: the dashboard has a day
        result = daily_run(on=on, at=timezone.now())
        self._report(f"daily job {on}", {k: v for k, v in result["counts"].items() if v})
        self._report("this morning", demo.demo_week_load(as_of=on, at=timezone.now(), seed=seed))
        self._report("plans and work logs", demo.demo_plans_load(as_of=on))
        self._report("membership cards", demo.demo_cards_load(as_of=on, seed=seed))
        self._report("benefits", demo.demo_redemptions_load(as_of=on, seed=seed))
        retention = demo.demo_retention_load(as_of=on, seed=seed)
        self._report("retention", retention)
        self._report("satisfaction", demo.demo_satisfaction_load(as_of=on, seed=seed))
        text = demo.demo_logins_text(logins, seed=seed)
        path = demo.demo_logins_write(text)
        self.stdout.write(self.style.SUCCESS(f"Demo club ready in {time.monotonic() - started:.1f} s."))
        self.stdout.write(f"Demo logins (also in {path}):")
        self.stdout.write(text)

    def _rate(self, on: dt.date, seed: int) -> None:
        """Rate the last year month by month, so the demo opens with a year of tier history (the churn report's
        month-end snapshots have a line), with a few closures in each month. Only the last two runs are followed up (benefits, assignments, deadlines):
        the older ones are marked followed up by the pipeline itself (skipped: a later run was followed up)."""
        policy = tier_services.default_policy()
        month = on.replace(day=1)
        if on < tier_rules.evaluation_date(month, policy.run_day):
            month = add_months(month, -1)
        history = []
        closed = 0
        for n in range(demo.DEMO_RATED_MONTHS - 1, 1, -1):
            run, _ = tier_services.tier_run_start(
                month=add_months(month, -n), policy=policy, force=True, dispatch=False
            )
            history.append(tier_services.tier_run_execute(run=run, follow_up=False))
            closed += demo.demo_closures_in_month(month=run.month, as_of=on, seed=seed)
        if history:
            changed = sum(sum(v for k, v in r.counts.items() if k != "unchanged") for r in history)
            self.stdout.write(
                f"  rating runs {history[0].month:%Y-%m} to {history[-1].month:%Y-%m}: {changed} tier changes, "
                f"{closed} members closed"
            )
        for m in (add_months(month, -1), month):
            run, _ = tier_services.tier_run_start(month=m, policy=policy, force=True, dispatch=False)
            # the follow-up here and now (managers assigned before the contact history below), not queued for a
            # worker: the worker of the first `make run` would run it a second time
            run = tier_services.tier_run_execute(run=run, follow_up=False)
            # made on the run's evaluation date for last month (its contact history follows), on `on` for this one
            monthly_pipeline(run_id=run.pk, on=on if m == month else run.evaluation_date)
            closed = demo.demo_closures_in_month(month=m, as_of=on, seed=seed) if m != month else 0
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
            self.stdout.write(f"  rating run {m:%Y-%m}: {counts}" + (f"; closed {closed}" if closed else ""))
        for run in history:
            monthly_pipeline(run_id=run.pk, on=on)  # skipped: marked followed up, never queued later

    def _report(self, what: str, counts: dict) -> None:
        now = time.monotonic()
        took, self._lap = now - getattr(self, "_lap", now), now
        self.stdout.write(f"  {what}: {', '.join(f'{k} {v}' for k, v in counts.items())} ({took:.1f} s)")
