from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers import services as customer_services
from customers.serializers import CustomerRowSerializer, customer_rows_check
from vipclub import demo


class Command(BaseCommand):
    help = (
        "Create or update customers from a CSV file whose header names the fields of POST /customers/bulk/ "
        "(msisdn, name, id_number, birthday, join_date, brand, product_type, plan_code, plan_started_on, region, "
        "landline); an empty cell means not given. Atomic: every row applies, or none and every bad line is named."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file (UTF-8, header row)")

    def handle(self, *args, file: Path, **options):
        try:
            total, created, updated = demo.csv_import(
                file,
                CustomerRowSerializer,
                rows_check=customer_rows_check,
                key=lambda row: row.get("msisdn"),
                write=lambda rows: customer_services.customers_bulk_upsert(rows=rows, on=timezone.localdate()),
                lock_key=lambda row: row["msisdn"],
            )
        except demo.CsvRejected as rejected:
            for line in demo.csv_rejection_lines(rejected, file):
                self.stderr.write(line)
            raise CommandError(f"{file}: {demo.csv_rejection_summary(rejected)}; nothing was written.") from None
        self.stdout.write(self.style.SUCCESS(f"{total} customers imported: {created} created, {updated} updated."))
