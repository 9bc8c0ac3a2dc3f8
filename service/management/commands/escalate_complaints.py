import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from service import services


class Command(BaseCommand):
    help = "Escalate the complaints late for a deadline to their branch's supervisors (default: now)."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO date-time with offset, e.g. 2026-11-08T18:00:00+08:00")

    def handle(self, *args, **options):
        try:
            at = dt.datetime.fromisoformat(options["at"]) if options["at"] else timezone.now()
        except ValueError as exc:
            raise CommandError(f"--at: {exc}") from exc
        if timezone.is_naive(at):
            at = timezone.make_aware(at)
        counts = services.complaints_escalate_late(at=at)
        self.stdout.write(f"escalated {counts['escalated']}, notified {counts['notified']}")
