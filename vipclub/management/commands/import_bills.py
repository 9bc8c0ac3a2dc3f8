from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.serializers import BillRowSerializer, bill_rows_check
from vipclub import demo, workflows


class Command(BaseCommand):
    help = (
        "Create or correct monthly bills from a CSV file whose header names the fields of POST /bills/bulk/ "
        "(msisdn, month as YYYY-MM, amount in yuan, paid); an empty cell means not given. Atomic: every row "
        "applies, or none and every bad line is named."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file (UTF-8, header row)")

    def handle(self, *args, file: Path, **options):
        ids: dict[str, int] = {}

        def write(rows: list[dict]) -> tuple[int, int]:
            for row in rows:
                row["customer_id"] = ids[row.pop("msisdn")]
            result = workflows.bills_import(rows=rows, on=timezone.localdate())
            return result.created, result.updated

        try:
            total, created, updated = demo.csv_import(
                file,
                BillRowSerializer,
                rows_check=lambda clean: bill_rows_check(clean, ids),
                key=lambda row: (row["msisdn"], row["month"]) if "msisdn" in row and "month" in row else None,
                write=write,
                lock_key=lambda row: (ids[row["msisdn"]], row["month"]),
            )
        except demo.CsvRejected as rejected:
            for line in demo.csv_rejection_lines(rejected, file):
                self.stderr.write(line)
            raise CommandError(f"{file}: {demo.csv_rejection_summary(rejected)}; nothing was written.") from None
        self.stdout.write(self.style.SUCCESS(f"{total} bills imported: {created} created, {updated} updated."))
