"""Gifts for points on the desk (DOMAIN §10: 积分兑换, issue 19's gaps): the orders of her members that need her — at
the hall (hand the gift over, and tell her: 到货第一时间通知), mailed (confirm she has it), a voucher whose deadline is
near, ordered — on the tab "Gifts" (/dashboard/gifts/), in sections with their true counts, paged; each order's page
with its steps; and the step she records from the phone — handed over (arrived → collected) or received by mail
(mailed → received) — through service.gift_services, as the order's state machine allows (the other steps are the
hall's and the logistics', in the admin or the API). The customer page's panel lists her latest orders.

Who: a manager her own members' orders, a supervisor her branches' (service.gift_selectors through scope_rows): a
colleague's member's order is a 404, on its page and on the step; anybody else the desk's 403 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import ui
from core.errors import DomainError
from service import gift_rules, gift_selectors, gift_services
from service.models import GiftOrder, GiftOrderState

from .paging import page_of
from .views import forbidden, roles, safe_next

GIFTS_PER_PAGE = 10
CUSTOMER_ORDERS_SHOWN = 5
# The steps the desk records, as she says them; the others (shipped, arrived, mailed, cancelled) are not hers.
DESK_MOVES = {
    GiftOrderState.COLLECTED: pgettext_lazy("gift", "Handed over"),
    GiftOrderState.RECEIVED: _("She received it"),
}
SECTION_TITLES = {
    gift_selectors.DESK_ARRIVED: _("At the hall: hand it over and tell her"),
    gift_selectors.DESK_MAILED: _("Mailed: confirm she received it"),
    gift_selectors.DESK_VOUCHER: _("Voucher deadline near"),
    gift_selectors.DESK_ORDERED: _("Ordered"),
}
MESSAGES = {
    "invalid_transition": _("This gift order cannot move there now; allowed: %(allowed)s."),
    "order_cancelled": _("This gift order is cancelled."),
}


def _message(exc: DomainError) -> str:
    return ui.transition_message(exc, MESSAGES, GiftOrderState)


def desk_moves(order: GiftOrder) -> list[tuple[str, str]]:
    """The steps the desk may record for this order now (its delivery's state machine)."""
    return [
        (to, DESK_MOVES[to]) for to in gift_rules.allowed_transitions(order.delivery, order.state) if to in DESK_MOVES
    ]


def decorate(orders: list[GiftOrder], today) -> list[GiftOrder]:
    for order in orders:
        order.moves = desk_moves(order)
        until = order.voucher_valid_until
        order.days_left = (until - today).days if until and order.state != GiftOrderState.CANCELLED else None
        order.voucher_soon = order.days_left is not None and 0 <= order.days_left <= gift_selectors.VOUCHER_SOON_DAYS
    return orders


def _desk_user(request) -> tuple:
    manager, supervises = roles(request)
    return manager, supervises, manager is not None or supervises


def _visible_order(request, order_id: int) -> GiftOrder:
    try:
        return gift_selectors.gift_order_get(order_id=order_id, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc


# --- the customer page's panel (desk/templatetags/desk_gifts.py) ---------------------------------------------


def customer_panel(context) -> dict:
    """Her latest orders (newest first) with their state, and for her own manager the step she may record."""
    customer = context["customer"]
    request = context["request"]
    orders, total = gift_selectors.customer_orders(customer, limit=CUSTOMER_ORDERS_SHOWN)
    return {
        "customer": customer,
        "orders": decorate(orders, timezone.localdate()),
        "total": total,
        "can_move": bool(context.get("editable")),
        "next": reverse("managers:customer", args=[customer.msisdn]) + "#gift-orders",
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }


# --- the pages ----------------------------------------------------------------------------------------------


@login_required
def gift_list(request):
    """The orders of her members (a supervisor: her branches') that need the desk, in sections."""
    manager, supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    today = timezone.localdate()
    counts = gift_selectors.desk_order_counts(user=request.user, on=today)
    page = page_of(request.GET, count=counts["total"], per_page=GIFTS_PER_PAGE)
    orders = decorate(
        gift_selectors.desk_orders_page(user=request.user, on=today, offset=page.offset, limit=page.per_page), today
    )
    previous = None
    for order in orders:
        order.heading = SECTION_TITLES[order.section] if order.section != previous else ""
        order.section_count = counts[gift_selectors.DESK_SECTIONS[order.section]]
        previous = order.section
    context = {
        "orders": orders,
        "counts": counts,
        "page": page,
        "next": request.get_full_path(),
        "manager": manager,
        "supervises": supervises,
        "nav": "gifts",
        "today": today,
    }
    return render(request, "desk/gifts.html", context)


@login_required
def gift_detail(request, order_id: int):
    """One order: the gift, the member, the voucher's deadline, its steps, and the step the desk may record."""
    manager, supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    order = _visible_order(request, order_id)
    today = timezone.localdate()
    decorate([order], today)
    context = {
        "order": order,
        "steps": list(order.steps.all()),
        "next": reverse("managers:gift-order", args=[order.pk]),
        "manager": manager,
        "supervises": supervises,
        "nav": "gifts",
        "today": today,
    }
    return render(request, "desk/gift.html", context)


@require_POST
@login_required
def gift_move(request, order_id: int):
    """Record a step of the order now — handed over, or received by mail — and go back where she was."""
    _manager, _supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    order = _visible_order(request, order_id)
    back = safe_next(request, reverse("managers:gift-order", args=[order.pk]))
    to = request.POST.get("to", "")
    if to not in DESK_MOVES:
        messages.error(request, gettext("The desk records only a gift handed over or received by mail."))
        return redirect(back)
    try:
        gift_services.gift_order_transition(order=order, to=to, at=timezone.now(), actor=request.user)
    except DomainError as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(
            request,
            gettext("Gift order #%(id)s of %(name)s: %(state)s.")
            % {"id": order.pk, "name": order.customer.name, "state": GiftOrderState(to).label},
        )
    return redirect(back)
