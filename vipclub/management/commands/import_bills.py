from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.serializers import BillRowSerializer, bill_row_validator
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
        try:
            total, created, updated = import_bills(file)
        except demo.CsvRejected as rejected:
            for line in demo.csv_rejection_lines(rejected, file):
                self.stderr.write(line)
            raise CommandError(f"{file}: {demo.csv_rejection_summary(rejected)}; nothing was written.") from None
        self.stdout.write(self.style.SUCCESS(f"{total} bills imported: {created} created, {updated} updated."))


def import_bills(file: Path) -> tuple[int, int, int]:
    """Stream the file into the database in one transaction, in constant memory: each line validated as the bulk
    API validates a row (the fields; then, set-based over the staged lines, unknown customers and repeated
    customer-months) and COPYed to a staging table as it is read; then the bills upserted and their points
    earned by the set-based statements of vipclub.workflows.bills_import. Returns (rows, created, updated), or
    raises CsvRejected naming every bad line before anything is written (all or nothing)."""
    stream = demo.CsvStream(file, BillRowSerializer)  # the header checked
    validate = bill_row_validator()
    problems: list[tuple[int | None, str]] = []

    def valid_lines():
        for line, row in stream.rows():
            try:
                clean = validate(row)
            except serializers.ValidationError as exc:
                problems.extend((line, message) for message in demo.csv_problems_of(exc.detail))
                continue
            yield line, clean["msisdn"], clean["month"], clean["amount"], clean["paid"]

    with transaction.atomic():
        customer_services.bill_lines_stage(valid_lines())
        if stream.problems:  # lines that could not be read: named alone, as before any validation
            raise demo.CsvRejected(stream.problems, stream.read)
        if not stream.read:
            raise demo.CsvRejected([(None, "The file has a header but no rows: nothing to import.")], 0)
        problems.extend(customer_selectors.bill_lines_problems(customer_services.BILL_LINES))
        if problems:
            raise demo.CsvRejected(sorted(problems, key=lambda p: p[0] or 0), stream.read)
        customer_services.bills_stage_from_lines()
        result = workflows.bills_import_staged(on=timezone.localdate())
    return stream.read, result.created, result.updated
