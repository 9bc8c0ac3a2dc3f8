"""The tiers part of the customer's admin page (composed by vipclub/admin.py): the tier filter and column, the
tier history inline, the current tier and "Why this tier" panels. Classes and functions only: nothing is
registered here."""

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import ReadOnlyInline
from core.errors import DomainError
from customers.models import KeyPersonRole

from . import selectors
from .models import Source, TierChange, Transition


class TierFilter(admin.SimpleListFilter):
    title = _("tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        names = selectors.tier_names()
        return [*((code, names.get(code, code)) for code in selectors.tier_codes()), ("none", _("Not a member"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value and (value == "none" or value in selectors.tier_codes()):
            return selectors.filter_by_tier(queryset, value)
        return queryset


class TierHistoryInline(ReadOnlyInline):
    model = TierChange
    fk_name = "customer"
    verbose_name = _("tier change")
    verbose_name_plural = _("tier history (newest first)")
    fields = ["effective_on", "from_tier", "to_tier", "transition", "reason", "score", "valid_until", "run"]
    readonly_fields = fields
    ordering = ["-id"]
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_tier", "to_tier", "run__policy").order_by("-id")


def _source_label(source: str) -> str:
    return Source(source).label if source in Source.values else source


def tier_column(customer) -> str:
    """The list column: her current tier, from `tier_state` loaded by selectors.annotate_tier (no query)."""
    try:
        state = customer.tier_state
    except ObjectDoesNotExist:
        return "—"
    if state.tier is None:
        return "—"
    return ui.label(state.tier)


def current_tier_html(customer) -> str:
    state = selectors.tier_state(customer)
    if state:
        state = {**state, "name": ui.label(state), "source": _source_label(state["source"])}
    return render_to_string("admin/tiers/_customer_tier.html", {"state": state})


def _since_run(customer, run) -> dict | None:
    """What changed her tier after the last applied run (an override approved between runs…), for the panel's
    first line: the panel then agrees with her current tier, and the run's decision reads as what came before."""
    found = selectors.change_since_run(customer, run)
    if found is None:
        return None
    change, override = found["change"], found["override"]
    return {
        "tier": ui.label(found["tier"]) if found["tier"] else _("none"),
        "source": _source_label(change.reason),
        "effective_on": change.effective_on,
        "valid_until": change.valid_until,
        "override": override,
        "approved_by": (override.approved_by.get_full_name() or override.approved_by.get_username())
        if override and override.approved_by
        else "",
    }


def why_this_tier_html(customer) -> str:
    """How the last applied run rated her: score, floors, override, the states before and after."""
    run = selectors.latest_applied_run()
    since = _since_run(customer, run)
    if run is None:
        return render_to_string("admin/tiers/_why_this_tier.html", {"explain": None, "since": since})
    try:
        explain = selectors.tier_explain(customer, run)
    except DomainError as exc:
        return exc.message
    names = selectors.tier_names()

    def tier(code):
        return names.get(code, code) if code else _("none")

    def state(data):
        return {
            "tier": tier(data["tier"]),
            "source": _source_label(data["source"]) if data["source"] else "",
            "valid_until": data["valid_until"],
        }

    roles = [
        f"{KeyPersonRole(r['role']).label if r['role'] in KeyPersonRole.values else r['role']}"
        + (f" ({r['group_class']})" if r["group_class"] else "")
        for r in explain["floors"]["key_person"]["roles"]
    ]
    transition = explain["transition"]
    context = {
        "explain": explain,
        "run_url": reverse("admin:tiers_ratingrun_change", args=[run.pk]),
        "bill_months": sorted(explain["score"]["bill_months"].items()),
        "score_tier": tier(explain["score"]["tier"]),
        "plan_tier": tier(explain["floors"]["plan"]["tier"]),
        "key_person_tier": tier(explain["floors"]["key_person"]["tier"]),
        "transfer_tier": tier(explain["floors"]["transfer"]["tier"]),
        "override_tier": tier(explain["override"]["tier"]),
        "roles": roles,
        "states": [
            (_("before the run"), state(explain["before"])),
            (_("candidate"), state(explain["candidate"])),
            (_("after the run"), state(explain["after"])),
        ],
        "transition": Transition(transition).label if transition in Transition.values else transition,
        "reason": _source_label(explain["reason"]) if explain["reason"] else "—",
        "since": since,
    }
    return render_to_string("admin/tiers/_why_this_tier.html", context)
