from django.core.management.base import BaseCommand

from points import services

from ._dates import parse_day


class Command(BaseCommand):
    help = (
        "Earn for every bill what it should have earned (bills loaded around the import path, e.g. a bulk load); "
        "idempotent: a second run posts nothing. Bills imported through the API or import_bills earn at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="business date YYYY-MM-DD (default today): bills of expired years skip")
        parser.add_argument("--force", action="store_true", help="run again although the date's run is done")

    def handle(self, *args, **opts):
        day = parse_day(opts["date"])
        job = services.points_earn_all(on=day, force=opts["force"], actor="points_earn")
        c = job.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Earning on {day}: {c.get('bills', 0):,} bills of {c.get('customers', 0):,} customers, "
                f"{c.get('points', 0):+,} points ({job.chunks_done} chunks, job #{job.pk} {job.status})."
            )
        )
