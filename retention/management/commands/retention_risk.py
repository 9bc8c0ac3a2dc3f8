import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ... import services


class Command(BaseCommand):
    help = "Rebuild the risk list as of a day (default today); beat runs it daily at 06:30, the pipeline monthly."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in Asia/Shanghai)")

    def handle(self, *args, date, **options):
        try:
            as_of = dt.date.fromisoformat(date) if date else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"{date!r} is not a date in the form YYYY-MM-DD.") from exc
        count = services.risk_refresh(as_of=as_of)
        self.stdout.write(f"Risk list as of {as_of}: {count} members at risk.")
