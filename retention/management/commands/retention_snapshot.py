import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import bounds
from core.errors import DomainError
from customers.rules import parse_month

from ... import services


def _month(value: str) -> dt.date:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _date(value: str) -> dt.date:
    try:
        return bounds.parse_date(value)
    except bounds.BoundsError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Count the members at the end of a month (or of each month of a range) per tier and branch, from the tier "
        "history, with the snapshot retention of a base date's members (default 1 January). Idempotent: a month "
        "taken again replaces its figures (e.g. after a late closure). The monthly pipeline does this for the month "
        "before each rating run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", type=_month, required=True, help="YYYY-MM (the first month of --through)")
        parser.add_argument("--through", type=_month, help="YYYY-MM: every month from --month to this one")
        parser.add_argument("--base-date", type=_date, help="snapshot retention of this day's members (YYYY-MM-DD)")

    def handle(self, *args, month, through, base_date, **options):
        try:
            snapshots = services.snapshot_months(
                first=month, last=through or month, on=timezone.localdate(), at=timezone.now(), base_date=base_date
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for snapshot in snapshots:
            self.stdout.write(f"{snapshot.month:%Y-%m}: {snapshot.members} members at the month end")
