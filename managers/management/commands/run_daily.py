from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import bounds
from managers import daily


class Command(BaseCommand):
    help = (
        "Run the daily job of the account managers (DOMAIN §4): open due obligations, mark overdue ones, "
        "notify managers and supervisors. Idempotent; --date replays a past day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the business day, YYYY-MM-DD (default: today in Asia/Shanghai)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="look at the whole club, not only at what changed since the previous run",
        )

    def handle(self, *args, **opts):
        if opts["date"]:
            try:
                day = bounds.parse_date(opts["date"])
            except bounds.BoundsError as exc:
                raise CommandError(f"--date: {exc}") from exc
        else:
            day = timezone.localdate(timezone=daily.BUSINESS_TZ)
        self.stdout.write(f"Daily run for {day.isoformat()}")

        def show(name: str, count: int, seconds: float) -> None:
            self.stdout.write(f"  {name:<22} {count:>10,}  {seconds:8.3f} s")

        result = daily.daily_run(on=day, at=timezone.now(), on_step=show, full=opts["full"])
        if result["incremental"]:
            since = result["incremental"]["since"]
            self.stdout.write(f"  continued from the run of {since} (what changed since; --full for a full pass)")
        for name, parts in result["details"].items():
            self.stdout.write(f"  {name}: " + ", ".join(f"{k} {v:,}" for k, v in parts.items()))
        if result["missing_calendar_years"]:
            years = ", ".join(map(str, result["missing_calendar_years"]))
            self.stdout.write(
                self.style.WARNING(f"Working-day calendar missing for {years}: Monday–Friday assumed until loaded.")
            )
        self.stdout.write(self.style.SUCCESS(f"Done in {result['seconds']['total']:.2f} s."))
