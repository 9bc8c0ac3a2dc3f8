from django.core.management.base import BaseCommand

from points import services

from ._dates import parse_day


class Command(BaseCommand):
    help = (
        "The year-end expiry (DOMAIN §6): expire what is left in every lot that expires on or before --date "
        "(default today; the schedule runs it on 31 December). Resumes an interrupted run of the same date."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="business date YYYY-MM-DD (default today)")
        parser.add_argument("--force", action="store_true", help="run again although the date's run is done")

    def handle(self, *args, **opts):
        day = parse_day(opts["date"])
        job = services.points_expire(on=day, force=opts["force"], actor="points_expire")
        c = job.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Expiry of {day}: {c.get('points', 0):,} points in {c.get('lots', 0):,} lots of "
                f"{c.get('customers', 0):,} customers ({job.chunks_done} chunks, job #{job.pk} {job.status})."
            )
        )
