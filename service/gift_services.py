"""Every write of gifts for points (DOMAIN §10: 积分兑换). Keyword-only, atomic, with the acting user (or system) and
the business time `at` (never the clock), an audit row (core.actors.record), a step in the order's history and a
`gift_order.changed {order, gift, status}` outbound event in the change's transaction.

- `gift_order_place`: one transaction: the customer locked, the order row, the points redeemed oldest lot first
  through points.services (409 `frozen`, `insufficient_points`), then the stock taken by ONE conditional update
  (`stock = stock - q WHERE stock >= q`: exact under concurrency, never below 0; 409 `out_of_stock` rolls everything
  back). An idempotency key makes a replay return the first order.
- `gift_order_transition`: the state machine (gift_rules), 409 `invalid_transition` naming the allowed moves;
  cancelling returns the points to the lots they came from with their original expiry (points.services) and the
  stock to the shelf; arriving at the hall tells the member (the `gift arrived` SMS partners derives from the event)
  and her account manager: a notification leading to the order on her desk, and an obligation `gift_arrived` (tell
  her, due the day it arrived or the next working day; a reached call, WeChat or visit closes it, so does handing the
  gift over; cancelling the order cancels it).
- `gift_voucher_extend`: staff move a voucher's deadline later, with a reason (seed: 7 days after a complaint)."""

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from core.actors import actor_label, record
from core.errors import InvalidInput, RuleViolation, check_transition
from customers import services as customer_services
from customers.models import Customer
from managers import selectors as manager_selectors
from managers import services as manager_services
from managers.calendar import WorkCalendar
from managers.models import Notification
from points import services as points_services
from points.models import PointsAccount
from tiers.models import CustomerTier

from . import gift_rules
from .models import Gift, GiftOrder, GiftOrderAction, GiftOrderState, GiftOrderStep

QUANTITY_MAX = 100
NOTE_MAX = 2000
EXTEND_MAX_DAYS = 366


def _user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


def _step(order: GiftOrder, *, action: str, from_state: str, at, actor, note: str = "", source: str = ""):
    return GiftOrderStep.objects.create(
        order=order,
        action=action,
        from_state=from_state,
        to_state=order.state,
        actor=_user(actor),
        actor_label=actor_label(actor, source),
        at=at,
        note=note,
    )


def _tell(order: GiftOrder, msisdn: str, at) -> None:
    """`gift_order.changed {order, gift, gift_zh, gift_en, quantity, status, delivery}` (DOMAIN §11)."""
    outbox.emit(
        type="gift_order.changed",
        customer_id=order.customer_id,
        msisdn=msisdn,
        occurred_at=at,
        data={
            "order": order.pk,
            "gift": order.gift.code,
            "gift_zh": order.gift.name_zh,
            "gift_en": order.gift.name_en,
            "quantity": order.quantity,
            "status": order.state,
            "delivery": order.delivery,
            "tier": CustomerTier.objects.filter(customer_id=order.customer_id)
            .values_list("tier__code", flat=True)
            .first(),
        },
    )


def _reference(order: GiftOrder) -> str:
    return f"gift-order:{order.pk}"


def _check_order(*, gift: Gift, quantity, delivery: str) -> None:
    problems = {}
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= QUANTITY_MAX:
        problems["quantity"] = [_("a whole number from 1 to %(max)d") % {"max": QUANTITY_MAX}]
    if delivery not in gift.deliveries():
        problems["delivery"] = [_("this gift is delivered by: %(ways)s") % {"ways": ", ".join(gift.deliveries())}]
    if problems:
        raise InvalidInput(_("The gift order cannot be placed: ") + "; ".join(problems), fields=problems)


def _replay(key: str, *, customer: Customer, gift: Gift, quantity: int) -> GiftOrder | None:
    order = GiftOrder.objects.filter(idempotency_key=key).select_related("gift").first()
    if order is None:
        return None
    if (order.customer_id, order.gift_id, order.quantity) != (customer.pk, gift.pk, quantity):
        raise RuleViolation(
            _("This idempotency key was already used for a different request."), code="idempotency_key_reused"
        )
    order.replayed = True
    return order


@transaction.atomic
def gift_order_place(
    *,
    customer: Customer,
    gift: Gift,
    quantity: int,
    delivery: str,
    at: dt.datetime,
    actor,
    idempotency_key: str | None = None,
    source: str = "",
) -> GiftOrder:
    """Order `quantity` of `gift` for `customer` at `at`: the points (price × quantity) redeemed oldest lot first and
    the stock taken, both or neither. 409 `not_offered` (the gift is withdrawn), `not_entitled` (her tier may not
    order it), `frozen`, `insufficient_points`, `out_of_stock`. With an idempotency key a replay returns the first
    order (`order.replayed`) and changes nothing. The answer carries `order.balance` (her points after)."""
    _check_order(gift=gift, quantity=quantity, delivery=delivery)
    customer = customer_services.customer_lock(customer)
    if idempotency_key and (order := _replay(idempotency_key, customer=customer, gift=gift, quantity=quantity)):
        order.balance = _balance(customer)
        return order
    if not gift.active:
        raise RuleViolation(
            _("The gift %(gift)s is no longer on offer.") % {"gift": gift.code},
            code="not_offered",
            fields={"gift": [_("not on offer")]},
        )
    allowed_tiers = set(gift.tiers.values_list("pk", flat=True))
    if allowed_tiers:
        tier_id = CustomerTier.objects.filter(customer=customer).values_list("tier_id", flat=True).first()
        if tier_id not in allowed_tiers:
            raise RuleViolation(
                _("Her tier may not order the gift %(gift)s.") % {"gift": gift.code},
                code="not_entitled",
                fields={"gift": [_("not for her tier")]},
            )
    day = timezone.localdate(at)
    order = GiftOrder.objects.create(
        customer=customer,
        region_id=customer.region_id,
        gift=gift,
        quantity=quantity,
        points=gift.points * quantity,
        delivery=delivery,
        state=GiftOrderState.PLACED,
        placed_at=at,
        placed_by=_user(actor),
        voucher_valid_until=day + dt.timedelta(days=gift.voucher_valid_days) if gift.voucher_valid_days else None,
        idempotency_key=idempotency_key or None,
    )
    redemption = points_services.points_redeem(
        customer=customer,
        points=order.points,
        reference=_reference(order),
        idempotency_key=_reference(order),
        on=day,
        actor=actor,
    )
    taken = Gift.objects.filter(pk=gift.pk, stock__gte=quantity).update(stock=F("stock") - quantity)
    if not taken:
        left = Gift.objects.values_list("stock", flat=True).get(pk=gift.pk)
        raise RuleViolation(
            _("%(wanted)d of %(gift)s wanted, %(left)d in stock.")
            % {"wanted": quantity, "gift": gift.code, "left": left},
            code="out_of_stock",
            fields={"quantity": [_("at most %(left)d") % {"left": left}]},
        )
    order.redemption_entry_id = redemption.entry_id
    order.save(update_fields=["redemption_entry_id", "updated_at"])
    _step(order, action=GiftOrderAction.PLACED, from_state="", at=at, actor=actor, source=source)
    record(
        actor=actor,
        action="gift_order_placed",
        target=order,
        at=at,
        source=source,
        gift=gift.code,
        quantity=quantity,
        points=order.points,
        delivery=delivery,
        entry=redemption.entry_id,
    )
    _tell(order, customer.msisdn, at)
    order.balance = redemption.balance
    order.replayed = False
    return order


def _balance(customer: Customer) -> int:
    return PointsAccount.objects.filter(customer_id=customer.pk).values_list("balance", flat=True).first() or 0


def _lock(order: GiftOrder) -> GiftOrder:
    """The customer first, then her order (core.db's lock order)."""
    customer_services.customer_lock(GiftOrder.objects.values_list("customer_id", flat=True).get(pk=order.pk))
    return GiftOrder.objects.select_for_update(of=("self",)).select_related("customer", "gift").get(pk=order.pk)


def _tell_manager(order: GiftOrder, at) -> None:
    """The member's account manager hears that the gift arrived at the hall and owes her the news at once
    (到货第一时间通知): a notification leading to the order on the desk, and an obligation `gift_arrived` due the day
    it arrived (on a day off, the next working day): due today in her work queue."""
    day = timezone.localdate(at)
    calendar = WorkCalendar.from_db()
    manager_services.gift_arrived_open(
        customer=order.customer,
        on=day,
        period=gift_rules.obligation_period(order.pk),
        due_on=day if calendar.is_working(day) else calendar.add_working_days(day, 1),
        note=f"#{order.pk} {order.gift.name_zh} ×{order.quantity}",
    )
    assignment = manager_selectors.active_assignment(order.customer)
    if assignment is None or assignment.manager.user_id is None:
        return
    Notification.objects.get_or_create(
        user_id=assignment.manager.user_id,
        kind=f"gift:{order.pk}:arrived"[:30],
        day=day,
        defaults={
            "text": _("The gift %(gift)s ×%(quantity)d of %(name)s has arrived at the hall: tell her.")
            % {"gift": order.gift.name_zh, "quantity": order.quantity, "name": order.customer.name},
            "link": reverse("managers:gift-order", args=[order.pk]),
        },
    )


@transaction.atomic
def gift_order_transition(*, order: GiftOrder, to: str, at: dt.datetime, actor, note: str = "") -> GiftOrder:
    """Move an order along its delivery's path at `at` (gift_rules). 409 `invalid_transition` whose `fields.allowed`
    lists the allowed moves. Cancelling returns the points to their lots (original expiry) and the stock."""
    problems = {}
    if to not in gift_rules.STATES:
        problems["to"] = [
            _("unknown state %(to)r; one of %(states)s") % {"to": to, "states": ", ".join(gift_rules.STATES)}
        ]
    if len(note or "") > NOTE_MAX:
        problems["note"] = [_("at most %(max)d characters") % {"max": NOTE_MAX}]
    if problems:
        raise InvalidInput(_("The step cannot be recorded: ") + "; ".join(problems), fields=problems)
    order = _lock(order)
    check_transition(
        gift_rules.transition_problem(order.delivery, order.state, to),
        gift_rules.allowed_transitions(order.delivery, order.state),
    )
    if at < order.placed_at:
        raise InvalidInput(
            _("A step cannot come before the order was placed (%(at)s).") % {"at": order.placed_at.isoformat()},
            fields={"occurred_at": [_("before the order was placed")]},
        )
    from_state = order.state
    order.state = to
    setattr(order, gift_rules.STAMPS[to], at)
    if to == GiftOrderState.CANCELLED:
        returned = points_services.points_redemption_return(
            customer=order.customer,
            entry_id=order.redemption_entry_id,
            reference=f"{_reference(order)}:cancelled",
            idempotency_key=f"{_reference(order)}:cancelled",
            on=timezone.localdate(at),
            actor=actor,
        )
        order.return_entry_id = returned.entry_id
        Gift.objects.filter(pk=order.gift_id).update(stock=F("stock") + order.quantity)
    order.save()
    _step(order, action=GiftOrderAction.TRANSITION, from_state=from_state, at=at, actor=actor, note=note)
    if to == GiftOrderState.ARRIVED:
        _tell_manager(order, at)
    elif to in (GiftOrderState.COLLECTED, GiftOrderState.CANCELLED) and from_state == GiftOrderState.ARRIVED:
        manager_services.gift_arrived_close(
            customer=order.customer,
            period=gift_rules.obligation_period(order.pk),
            at=at,
            cancel=to == GiftOrderState.CANCELLED,
        )
    record(
        actor=actor,
        action="gift_order_moved",
        target=order,
        at=at,
        from_state=from_state,
        to_state=to,
        note=(note or "")[:200],
    )
    _tell(order, order.customer.msisdn, at)
    return order


@transaction.atomic
def gift_voucher_extend(*, order: GiftOrder, until: dt.date, reason: str, at: dt.datetime, actor) -> GiftOrder:
    """Move a voucher's redemption deadline later to `until` with a reason (e.g. 7 days after a complaint)."""
    problems = {}
    reason = (reason or "").strip()
    if not reason:
        problems["reason"] = [_("required: why the voucher is extended")]
    elif len(reason) > NOTE_MAX:
        problems["reason"] = [_("at most %(max)d characters") % {"max": NOTE_MAX}]
    if not isinstance(until, dt.date):
        problems["until"] = [_("a date")]
    if problems:
        raise InvalidInput(_("The voucher cannot be extended: ") + "; ".join(problems), fields=problems)
    order = _lock(order)
    if order.voucher_valid_until is None:
        raise RuleViolation(
            _("Gift order #%(id)d is not a voucher.") % {"id": order.pk},
            code="not_a_voucher",
            fields={"order": [_("not a voucher")]},
        )
    if order.state == GiftOrderState.CANCELLED:
        raise RuleViolation(
            _("Gift order #%(id)d is cancelled.") % {"id": order.pk},
            code="order_cancelled",
            fields={"order": [_("cancelled")]},
        )
    before = order.voucher_valid_until
    if until <= before:
        raise InvalidInput(
            _("The new deadline must come after the current one (%(day)s).") % {"day": before.isoformat()},
            fields={"until": [_("after %(day)s") % {"day": before.isoformat()}]},
        )
    if until > before + dt.timedelta(days=EXTEND_MAX_DAYS):
        raise InvalidInput(
            _("A voucher is extended by at most %(days)d days at a time.") % {"days": EXTEND_MAX_DAYS},
            fields={"until": [_("at most %(days)d days later") % {"days": EXTEND_MAX_DAYS}]},
        )
    order.voucher_valid_until = until
    order.save(update_fields=["voucher_valid_until", "updated_at"])
    _step(
        order,
        action=GiftOrderAction.EXTENDED,
        from_state=order.state,
        at=at,
        actor=actor,
        note=f"{before.isoformat()} → {until.isoformat()}: {reason}",
    )
    record(
        actor=actor,
        action="gift_voucher_extended",
        target=order,
        at=at,
        before=before.isoformat(),
        until=until.isoformat(),
        reason=reason[:200],
    )
    return order


@transaction.atomic
def gift_save(*, gift: Gift, add_stock: int = 0, actor, at: dt.datetime, tiers=None) -> Gift:
    """Create or change a catalog gift (staff). The stock of an existing gift only moves by `add_stock` (an F()
    update: orders taking stock at the same moment are never overwritten)."""
    created = gift.pk is None
    if add_stock < 0:
        raise InvalidInput(_("Stock is added, not removed, here."), fields={"add_stock": [_("0 or more")]})
    if created:
        gift.stock += add_stock
        gift.save()
    else:
        fields = [f.name for f in Gift._meta.concrete_fields if f.name not in ("id", "stock")]
        gift.save(update_fields=fields)
        if add_stock:
            Gift.objects.filter(pk=gift.pk).update(stock=F("stock") + add_stock)
    if tiers is not None:
        gift.tiers.set(tiers)
    gift.refresh_from_db(fields=["stock"])
    record(
        actor=actor,
        action="gift_created" if created else "gift_changed",
        target=gift,
        at=at,
        code=gift.code,
        points=gift.points,
        added_stock=add_stock,
        stock=gift.stock,
        active=gift.active,
    )
    return gift
