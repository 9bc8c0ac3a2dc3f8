"""CSV exports: every cell that a spreadsheet would read as a formula is neutralised (OWASP CSV injection).

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front, so that
`=HYPERLINK(…)` in a customer's name arrives as text. Plain numbers (`-12.5`) are left as they are: they are no
formula. Every CSV the project writes goes through `csv_writer` (tests/test_input_bounds.py checks each one); a
download is `csv_download` (a response and its writer) or, for one table, `csv_response`.
"""

import csv
import re

from django.http import HttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def safe_cell(value):
    """The value, or the text with a leading `'` when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> SafeWriter:
    return SafeWriter(out, **kwargs)


def csv_download(filename: str) -> tuple[HttpResponse, SafeWriter]:
    """A CSV file to download as `filename`: UTF-8 with the byte-order mark Excel needs to read the Chinese names,
    and its writer (formula cells neutralised)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    return response, csv_writer(response)


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    """A one-table CSV download: the header, then the rows."""
    response, writer = csv_download(filename)
    writer.writerow(header)
    writer.writerows(rows)
    return response
