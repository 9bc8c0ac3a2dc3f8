from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import bounds

from ... import services


class Command(BaseCommand):
    help = "Rebuild the risk list as of a day (default today); beat runs it daily at 06:30, the pipeline monthly."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in Asia/Shanghai)")

    def handle(self, *args, date, **options):
        try:
            on = bounds.parse_date(date) if date else timezone.localdate()
        except bounds.BoundsError as exc:
            raise CommandError(str(exc)) from exc
        count = services.risk_refresh(on=on)
        self.stdout.write(f"Risk list as of {on}: {count} members at risk.")
