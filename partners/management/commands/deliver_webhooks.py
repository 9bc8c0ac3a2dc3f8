import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from partners import delivery


class Command(BaseCommand):
    help = (
        "Deliver the webhooks (API.md 'Outbound events'): fan the outbox out to the endpoints and send what is due, "
        "in batches per endpoint; loops every --interval seconds unless --once. Runs beside Celery's partners.deliver."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass until nothing is due, then stop")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")

    def handle(self, *args, once=False, interval=2.0, **options):
        while True:
            stats = delivery.deliver(clock=timezone.now)
            if stats["sent"] or once:
                self.stdout.write(
                    f"fanned out {stats['fanned_out']}, sent {stats['sent']}, delivered {stats['delivered']}"
                )
            if once:
                return
            time.sleep(interval)
