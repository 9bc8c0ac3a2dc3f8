"""The admin of gifts for points: the catalog (stock added through the service, never overwritten) and the orders
with their steps, moved by list actions or from their page, the voucher's deadline extended with a reason. A
supervisor sees her branches' orders only (core.admin.BranchScopedAdmin)."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import (
    BranchScopedAdmin,
    GuardedHistoryAdmin,
    MaskedCustomerMixin,
    ReadOnlyInline,
    move_action,
    mover,
)
from core.errors import DomainError
from core.forms import IntegerFormField

from . import gift_rules, gift_services
from .forms import GiftOrderMoveForm, GiftVoucherExtendForm
from .models import Gift, GiftOrder, GiftOrderState, GiftOrderStep

EXTEND_DEFAULT_DAYS = 7  # the seed: a voucher is extended by 7 days after a complaint

TEXTS = {
    "invalid_transition": _("This gift order cannot move there now; allowed: %(allowed)s."),
    "not_a_voucher": _("This gift order is not a voucher."),
    "order_cancelled": _("This gift order is cancelled."),
}


def _message(exc: DomainError) -> str:
    return ui.transition_message(exc, TEXTS, GiftOrderState)


class GiftForm(forms.ModelForm):
    add_stock = IntegerFormField(label=_("Add to stock"), min_value=0, max_value=1_000_000, required=False, initial=0)

    class Meta:
        model = Gift
        fields = ["code", "name_zh", "name_en", "points", "tiers", "delivery", "voucher_valid_days", "active"]


@admin.register(Gift)
class GiftAdmin(GuardedHistoryAdmin):
    form = GiftForm
    list_display = ["code", "name_zh", "name_en", "points", "stock", "delivery", "voucher_valid_days", "active"]
    list_filter = ["active", "delivery"]
    search_fields = ["code", "name_zh", "name_en"]
    readonly_fields = ["stock"]
    filter_horizontal = ["tiers"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        gift_services.gift_save(
            gift=obj, add_stock=form.cleaned_data.get("add_stock") or 0, actor=request.user, at=timezone.now()
        )

    def save_related(self, request, form, formsets, change):
        form.save_m2m()


class GiftOrderStepInline(ReadOnlyInline):
    model = GiftOrderStep
    fields = ["at", "action", "from_state", "to_state", "actor_label", "note"]
    readonly_fields = fields
    ordering = ["at", "id"]


@admin.register(GiftOrder)
class GiftOrderAdmin(BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer_col",
        "region",
        "gift",
        "quantity",
        "points",
        "delivery",
        "state",
        "placed_at",
        "voucher_valid_until",
    ]
    list_filter = ["state", "delivery", "gift", "region"]
    list_select_related = ["customer", "region", "gift"]
    search_fields = ["=customer__msisdn", "^customer__name", "=id"]
    date_hierarchy = "placed_at"
    inlines = [GiftOrderStepInline]
    actions = ["ship", "arrive", "collect", "mail", "receive", "cancel"]
    readonly_fields = [
        "customer_col",
        "region",
        "gift",
        "quantity",
        "points",
        "delivery",
        "state",
        "placed_at",
        "placed_by",
        "shipped_at",
        "arrived_at",
        "collected_at",
        "mailed_at",
        "received_at",
        "cancelled_at",
        "voucher_valid_until",
        "redemption_entry_id",
        "return_entry_id",
    ]
    fields = readonly_fields
    change_form_template = "admin/service/giftorder/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("<int:order_id>/move/", self.admin_site.admin_view(self.move_view), name="service_giftorder_move"),
            path(
                "<int:order_id>/voucher/",
                self.admin_site.admin_view(self.voucher_view),
                name="service_giftorder_voucher",
            ),
            *super().get_urls(),
        ]

    def _scoped(self, request, order_id) -> GiftOrder:
        if not self.has_change_permission(request):
            raise PermissionDenied
        order = self.get_queryset(request).filter(pk=order_id).first()
        if order is None:
            raise Http404
        return order

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        order = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if order is not None:
            allowed = gift_rules.allowed_transitions(order.delivery, order.state)
            move = GiftOrderMoveForm()
            move.fields["to"].choices = [(s, GiftOrderState(s).label) for s in allowed]
            voucher = order.voucher_valid_until is not None and order.state != GiftOrderState.CANCELLED
            extra.update(
                {
                    "move_form": move if allowed else None,
                    "voucher_form": GiftVoucherExtendForm(
                        initial={"until": order.voucher_valid_until + dt.timedelta(days=EXTEND_DEFAULT_DAYS)}
                    )
                    if voucher
                    else None,
                    "order": order,
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def move_view(self, request, order_id: int):
        order = self._scoped(request, order_id)
        form = GiftOrderMoveForm(request.POST or None)
        form.fields["to"].choices = GiftOrderState.choices
        if request.method == "POST" and form.is_valid():
            self._move_one(request, order, form.cleaned_data["to"], form.cleaned_data["note"].strip())
        elif request.method == "POST":
            self.message_user(request, " ".join(" ".join(e) for e in form.errors.values()), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:service_giftorder_change", args=[order.pk]))

    def voucher_view(self, request, order_id: int):
        order = self._scoped(request, order_id)
        form = GiftVoucherExtendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                gift_services.gift_voucher_extend(
                    order=order,
                    until=form.cleaned_data["until"],
                    reason=form.cleaned_data["reason"],
                    at=timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, _message(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Gift order #%(id)d: the voucher is valid until %(day)s.")
                    % {"id": order.pk, "day": form.cleaned_data["until"].isoformat()},
                    messages.SUCCESS,
                )
        elif request.method == "POST":
            self.message_user(request, " ".join(" ".join(e) for e in form.errors.values()), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:service_giftorder_change", args=[order.pk]))

    def _move_one(self, request, order, to: str, note: str = "") -> bool:
        try:
            gift_services.gift_order_transition(order=order, to=to, note=note, at=timezone.now(), actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"#{order.pk}: {_message(exc)}", messages.WARNING)
            return False
        self.message_user(
            request,
            _("Gift order #%(id)d: %(state)s.") % {"id": order.pk, "state": GiftOrderState(to).label},
            messages.SUCCESS,
        )
        return True

    _move = mover(
        gift_services.gift_order_transition,
        "order",
        states=GiftOrderState,
        done=_("%(n)d gift orders moved to “%(state)s”."),
        refused=_message,
    )

    ship = move_action(GiftOrderState.SHIPPED, _("Ship the selected gift orders to the hall"))
    arrive = move_action(GiftOrderState.ARRIVED, _("Mark the selected gift orders arrived (the member is told)"))
    collect = move_action(GiftOrderState.COLLECTED, _("Mark the selected gift orders collected"))
    mail = move_action(GiftOrderState.MAILED, _("Mark the selected gift orders mailed"))
    receive = move_action(GiftOrderState.RECEIVED, _("Mark the selected gift orders received by mail"))
    cancel = move_action(GiftOrderState.CANCELLED, _("Cancel the selected gift orders (points and stock returned)"))
