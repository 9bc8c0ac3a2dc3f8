"""The benefits rows on the customer's admin page (composed by vipclub/admin.py): her balances of this and last
year and her recent ledger. Classes and functions only: nothing is registered here."""

import datetime as dt

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyInline

from . import rules
from .models import BenefitAccount, BenefitEntry


def show(unit: str, value) -> str:
    """Whole units as staff read them: yuan for money."""
    if value is None:
        return "—"
    return str(rules.to_display(unit, value))


class BenefitAccountInline(ReadOnlyInline):
    """The customer's balances of this and last year (accounts per year, month, event)."""

    model = BenefitAccount
    fk_name = "customer"
    verbose_name = _("benefit balance")
    verbose_name_plural = _("benefit balances (this and last year)")
    fields = ["benefit", "period_key", "granted_col", "used_col", "remaining_col"]
    readonly_fields = fields
    max_num = 0

    def get_queryset(self, request):
        since = dt.date(timezone.localdate().year - 1, 1, 1)
        return (
            super()
            .get_queryset(request)
            .filter(Q(period_start__isnull=True) | Q(period_start__gte=since))
            .select_related("benefit")
            .order_by("-period_start", "benefit__position")
        )

    @admin.display(description=_("granted"))
    def granted_col(self, obj):
        return "∞" if obj.unlimited else show(obj.benefit.unit, obj.granted)

    @admin.display(description=_("used"))
    def used_col(self, obj):
        return show(obj.benefit.unit, obj.used)

    @admin.display(description=_("remaining"))
    def remaining_col(self, obj):
        return "∞" if obj.unlimited else show(obj.benefit.unit, obj.remaining)


class BenefitEntryInline(ReadOnlyInline):
    """The customer's benefit ledger of the last 13 months, newest first; the full ledger is one click away."""

    model = BenefitEntry
    fk_name = "customer"
    verbose_name = _("benefit ledger entry")
    verbose_name_plural = _("benefit ledger (last 13 months, newest first)")
    fields = ["occurred_on", "benefit", "kind", "change_col", "remaining_col", "tier", "actor", "reference", "full"]
    readonly_fields = fields
    max_num = 0

    def get_queryset(self, request):
        since = timezone.localdate() - dt.timedelta(days=396)
        return (
            super()
            .get_queryset(request)
            .filter(occurred_on__gte=since)
            .select_related("benefit", "tier")
            .order_by("-id")
        )

    @admin.display(description=_("change"))
    def change_col(self, obj):
        delta = obj.granted_delta or -obj.used_delta
        sign = "+" if delta > 0 else ""
        return f"{sign}{show(obj.benefit.unit, delta)}" if delta else "0"

    @admin.display(description=_("remaining after"))
    def remaining_col(self, obj):
        return show(obj.benefit.unit, obj.remaining_after)

    @admin.display(description=_("full ledger"))
    def full(self, obj):
        url = reverse("admin:benefits_benefitentry_changelist") + f"?customer__id__exact={obj.customer_id}"
        return format_html('<a href="{}">{}</a>', url, _("all entries"))
