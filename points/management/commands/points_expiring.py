from django.core.management.base import BaseCommand
from django.utils import timezone

from core import bounds
from points import services


class Command(BaseCommand):
    help = "The November list: members whose points expire on 31 December of --year, as CSV (stdout or --output)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--year", type=bounds.year_arg, help="the year whose 31 December they expire (default this year)"
        )
        parser.add_argument("--region", help="only this region code")
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        year = opts["year"] or timezone.localdate().year
        if opts["output"]:
            with open(opts["output"], "w", newline="", encoding="utf-8") as out:
                n = services.expiring_export(year=year, out=out, region=opts["region"])
            self.stderr.write(f"{n:,} members with points expiring on {year}-12-31 written to {opts['output']}.")
        else:
            n = services.expiring_export(year=year, out=self.stdout, region=opts["region"])
            self.stderr.write(f"{n:,} members with points expiring on {year}-12-31.")
