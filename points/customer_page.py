"""The points part of the customer's admin page (composed by vipclub/admin.py): her lots and the points panel.
Classes and functions only: nothing is registered here."""

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyInline

from . import selectors
from .models import PointsLot


def customer_points_html(customer) -> str:
    """The points panel of a customer (balance, freeze, lots, expiring, consumption, credit stars, ledger)."""
    return render_to_string(
        "points/_customer_points.html",
        {"points": selectors.customer_points_panel(customer, on=timezone.localdate()), "bare": True},
    )


class PointsLotInline(ReadOnlyInline):
    """The customer's lots, oldest expiry first."""

    model = PointsLot
    fk_name = "customer"
    fields = ["year", "kind", "original", "remaining", "expires_on", "created_at"]
    readonly_fields = fields
    ordering = ["expires_on", "id"]
    max_num = 0
    verbose_name_plural = _("points lots")
