"""Cross-app workflows. Apps never call each other sideways; these functions compose them."""

from django.db import transaction

from customers import services as customer_services
from customers.services import BillsResult


@transaction.atomic
def bills_import(*, rows: list[dict], actor=None) -> BillsResult:
    """Store bills (new or corrected). Points earning on the amount differences hooks in here."""
    return customer_services.bills_bulk_upsert(rows=rows, actor=actor)
