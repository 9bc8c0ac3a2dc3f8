"""Exit 1 when the scheduled jobs stopped: the heartbeat that beat schedules every minute and a worker records is
older than --max-age seconds (docker-compose.yml's health check of the beat service)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.models import JobHeartbeat


class Command(BaseCommand):
    help = "Check that the beat heartbeat (core.heartbeat, every minute) is recent; exit 1 when it is not."

    def add_arguments(self, parser):
        parser.add_argument("--max-age", type=int, default=300, help="seconds (default 300)")
        parser.add_argument("--name", default="beat", help="heartbeat name (default beat)")

    def handle(self, *args, max_age: int, name: str, **options):
        beat = JobHeartbeat.objects.filter(name=name).first()
        if beat is None:
            raise CommandError(f"No {name!r} heartbeat yet: are beat and a worker running?")
        age = timezone.now() - beat.last_run_at
        if age > dt.timedelta(seconds=max_age):
            raise CommandError(f"The {name!r} heartbeat is {age.total_seconds():.0f} s old (more than {max_age} s).")
        self.stdout.write(f"{name} heartbeat {age.total_seconds():.0f} s ago")
