"""Lifecycle events from other systems (API.md `/events/`): validate, apply across apps, answer once.

This is the one place where an event fans out to the apps, through the workflows (customers, tiers, points,
managers, retention).
"""

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from core.errors import DomainError, InvalidInput, RuleViolation
from core.fields import BoundedDateTimeField, InputSerializer
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.serializers import EventDataSerializers as S
from customers.serializers import MsisdnField
from points import services as points_services
from points.serializers import MovedInDataSerializer
from retention import services as retention_services
from retention.serializers import ClosureRequestedDataSerializer
from tiers import services as tier_services

from . import workflows
from .models import InboundEvent

DATA_SERIALIZERS = {
    "suspended": S.Suspended,
    "reactivated": S.Empty,
    "closure_requested": ClosureRequestedDataSerializer,
    "closure_cancelled": S.Empty,
    "closed": S.Closed,
    "plan_changed": S.PlanChanged,
    "ownership_transferred": S.OwnershipTransferred,
    "number_changed": S.NumberChanged,
    "key_person_set": S.KeyPersonSet,
    "moved_in": MovedInDataSerializer,
}
EVENT_TYPES = list(DATA_SERIALIZERS)

# The lifecycle events: applied in `occurred_at` order per customer (an older one arriving late is superseded).
LIFECYCLE_EVENTS = frozenset({"suspended", "reactivated", "closure_requested", "closure_cancelled", "closed"})
_TRANSITION_EVENTS = {
    "suspended": "suspend",
    "reactivated": "reactivate",
    "closure_cancelled": "cancel_closure",
    "closed": "close",
}


@dataclass
class EventOutcome:
    status_code: int
    body: dict
    replayed: bool


def _request_hash(event: dict) -> str:
    payload = json.dumps({k: event[k] for k in ("type", "msisdn", "occurred_at", "data")}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _apply(*, customer, event: dict, data: dict, actor) -> dict:
    """Apply one event to the customer (locked by the caller)."""
    kind = event["type"]
    at = event["occurred_at"]
    source = f"event:{event['event_id']}"[:40]
    if kind == "closure_requested":
        # a second request while one is pending joins the open retention case (DOMAIN §8)
        case, _opened = retention_services.closure_request(
            customer=customer,
            channel=data["channel"],
            reason=data["reason"],
            reason_category=data["reason_category"],
            at=at,
            actor=actor,
            source=source,
        )
        return {"msisdn": customer.msisdn, "status": case.customer.status, "retention_case": case.pk}
    gap = ""
    if kind in _TRANSITION_EVENTS:
        customer, gap = workflows.lifecycle_event(
            customer=customer,
            action=_TRANSITION_EVENTS[kind],
            kind=data.get("kind", ""),
            at=at,
            actor=actor,
            source=source,
        )
    elif kind == "plan_changed":
        customer = customer_services.customer_change_plan(
            customer=customer, plan_code=data["plan_code"], started_on=data["started_on"], actor=actor
        )
    elif kind == "ownership_transferred":
        customer = customer_services.customer_transfer_ownership(
            customer=customer,
            name=data["name"],
            id_number=data["id_number"],
            at=at,
            actor=actor,
            source=source,
        )
    elif kind == "number_changed":
        customer = customer_services.customer_change_number(
            customer=customer, new_msisdn=data["new_msisdn"], at=at, actor=actor, source=source
        )
    elif kind == "moved_in":
        customer = _move_in(customer=customer, data=data, at=at, actor=actor)
    elif kind == "key_person_set":
        customer_services.key_person_set(
            customer=customer,
            group_code=data["group_code"],
            group_class=data["group_class"],
            role=data["role"],
            group_name=data["group_name"],
            at=at,
            actor=actor,
        )
    return {"msisdn": customer.msisdn, "status": customer.status, **({"gap": gap} if gap else {})}


def _superseded(*, customer, event: dict) -> dict:
    """The answer to a lifecycle event older than the customer's newest one applied: recorded, not applied."""
    latest = customer.lifecycle_at
    return {
        "msisdn": customer.msisdn,
        "status": customer.status,
        "reason": InboundEvent.Outcome.SUPERSEDED,
        "message": (
            f"This {event['type']} event of {event['occurred_at'].isoformat()} is older than the customer's latest "
            f"lifecycle event ({latest.isoformat()}): recorded, not applied; her status stays {customer.status}."
        ),
        "latest_lifecycle_at": latest,
    }


def _move_in(*, customer, data: dict, at, actor):
    """跨区入网: the points lots come along 1:1, the tier brought along is kept until 31 December (§3), and the
    original join date, when given, is carried over."""
    on = timezone.localdate(at)
    if data.get("join_date") and data["join_date"] != customer.join_date:
        # the customers app writes its own rows: the customer's data again, with the original join date
        row = {f: getattr(customer, f) for f in customer_services.CUSTOMER_BULK_FIELDS}
        customer_services.customers_bulk_upsert(
            rows=[{**row, "msisdn": customer.msisdn, "region": customer.region.code, "join_date": data["join_date"]}]
        )
        customer = customer_selectors.customer_get(msisdn=customer.msisdn)
    points_services.points_move_in(
        customer=customer,
        lots=[(lot["year"], lot["points"]) for lot in data.get("points_lots") or []],
        from_region=data["from_region"],
        on=on,
        reference=f"moved in from {data['from_region']}"[:100],
        actor=actor,
    )
    if data.get("tier"):
        tier_services.tier_transfer_floor_set(
            customer=customer, tier_code=data["tier"], from_region=data["from_region"], moved_on=on, actor=actor
        )
    return customer


def event_ingest(*, event: dict, actor=None) -> EventOutcome:
    """Apply one validated event envelope {event_id, type, msisdn, occurred_at, data}.

    201 when applied, 200 with the first answer on a replay, 409 (stored too) when a rule refuses it.
    Unknown customers (404) and bad data (400) are not stored, so the sender can fix and resend.

    The customer is locked for the whole event (core.db's lock order: her row first), so the events of one customer
    apply one after the other, in `occurred_at` order: a lifecycle event older than the newest one applied to her
    arrived late; it is recorded and answered 201 with `applied: false` (outcome `superseded`), and changes nothing.
    Events with the same `occurred_at` apply in arrival order.
    """
    request_hash = _request_hash(event)

    def replay(stored: InboundEvent) -> EventOutcome:
        if stored.request_hash != request_hash:
            raise RuleViolation(
                f"event_id {event['event_id']} was already used for a different event.",
                code="event_id_reused",
            )
        return EventOutcome(200 if stored.status_code == 201 else stored.status_code, stored.response, True)

    stored = InboundEvent.objects.filter(event_id=event["event_id"]).first()
    if stored:
        return replay(stored)

    data_serializer = DATA_SERIALIZERS[event["type"]](data=event.get("data") or {})
    if not data_serializer.is_valid():
        raise InvalidInput(
            f"Invalid data for a {event['type']} event.",
            fields={"data": data_serializer.errors},
        )
    head = {"event_id": event["event_id"], "type": event["type"]}
    try:
        with transaction.atomic():
            customer = customer_services.customer_lock(customer_selectors.customer_get(msisdn=event["msisdn"]))
            stored = InboundEvent.objects.filter(event_id=event["event_id"]).first()
            if stored:  # the same event applied by a concurrent request while this one waited for the customer
                return replay(stored)
            if (
                event["type"] in LIFECYCLE_EVENTS
                and customer.lifecycle_at is not None
                and event["occurred_at"] < customer.lifecycle_at
            ):
                status_code, outcome = 201, InboundEvent.Outcome.SUPERSEDED
                body = {**head, "applied": False, **_superseded(customer=customer, event=event)}
            else:
                try:
                    with transaction.atomic():
                        result = _apply(
                            customer=customer, event=event, data=dict(data_serializer.validated_data), actor=actor
                        )
                    status_code, outcome = 201, InboundEvent.Outcome.APPLIED
                    body = {**head, "applied": True, **result}
                except RuleViolation as exc:
                    status_code, outcome = exc.http_status, InboundEvent.Outcome.REFUSED
                    body = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
            body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
            InboundEvent.objects.create(
                event_id=event["event_id"],
                type=event["type"],
                msisdn=event["msisdn"],
                occurred_at=event["occurred_at"],
                data=json.loads(json.dumps(event.get("data") or {}, default=str)),
                request_hash=request_hash,
                status_code=status_code,
                outcome=outcome,
                response=body,
                client=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        stored = InboundEvent.objects.filter(event_id=event["event_id"]).first()
        if stored is None:
            raise
        return replay(stored)
    return EventOutcome(status_code, body, False)


class EventSerializer(InputSerializer):
    event_id = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    msisdn = MsisdnField()
    occurred_at = BoundedDateTimeField(past=True, help_text="when it happened; not in the future")
    data = serializers.DictField(required=False, default=dict)


__all__ = ["event_ingest", "EventSerializer", "EventOutcome", "EVENT_TYPES", "DomainError"]
