"""Writes of partner systems: webhook endpoints (created with their secret, paused, resumed, rotated) and replays of
deliveries. Keyword-only, with `actor=` and the time `at`; the audit is the endpoint's history and core's ActionLog."""

import base64
import datetime as dt
import logging
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from core.actors import actor_label, record
from core.models import OutboxEvent
from core.permissions import CLUB_ADMINS_GROUP
from managers.models import Notification

from .models import Delivery, WebhookEndpoint
from .ssrf import check_url

log = logging.getLogger(__name__)


def new_secret() -> str:
    """`whsec_` + 32 random bytes in base64 (the Standard Webhooks form)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def endpoint_create(
    *, url: str, types: list[str], description: str = "", actor, at: dt.datetime, from_now: bool = True
) -> WebhookEndpoint:
    """A new endpoint (the URL passes the SSRF guard). It gets the events recorded from now on (`from_now`), not
    the outbox's backlog."""
    check_url(url)
    cursor = 0
    if from_now:
        cursor = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        types=sorted(set(types)),
        description=description,
        secret=new_secret(),
        created_by=actor_label(actor),
        created_at=at,
        cursor=cursor,
    )
    record(actor=actor, action="webhook_endpoint_created", target=endpoint, at=at)
    return endpoint


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, actor, at: dt.datetime, **changes) -> WebhookEndpoint:
    """Change url/types/description/active; a resumed endpoint starts its failure count again."""
    if "url" in changes:
        check_url(changes["url"])
    if "types" in changes:
        changes["types"] = sorted(set(changes["types"]))
    if changes.get("active") and not endpoint.active:
        changes.update(paused_reason="", paused_at=None, consecutive_failures=0)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.save()
    record(actor=actor, action="webhook_endpoint_changed", target=endpoint, at=at)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor, at: dt.datetime) -> None:
    record(actor=actor, action="webhook_endpoint_deleted", target=endpoint, at=at)
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor, at: dt.datetime) -> WebhookEndpoint:
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    record(actor=actor, action="webhook_secret_rotated", target=endpoint, at=at)
    return endpoint


@transaction.atomic
def endpoint_pause(*, endpoint: WebhookEndpoint, reason: str, actor, at: dt.datetime) -> bool:
    """Pause an endpoint (its events keep being logged, none is sent) and tell the club admins: a notification each
    and an error in the log. False when it was paused already."""

    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, paused_reason=reason[:300], paused_at=at
    )
    if not changed:
        return False
    endpoint.refresh_from_db()
    log.error("Webhook endpoint %s (%s) paused: %s", endpoint.pk, endpoint.url, reason)
    admins = (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name=CLUB_ADMINS_GROUP), is_active=True)
        .distinct()
    )
    text = f"Webhook endpoint {endpoint.url} was paused: {reason}. Resume it in the admin once the partner is back."
    Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                kind="webhook_paused",
                text=text[:1000],
                link=f"/admin/partners/webhookendpoint/{endpoint.pk}/change/",
                day=at.date(),
            )
            for user in admins
        ],
        ignore_conflicts=True,
    )
    record(actor=actor, action="webhook_endpoint_paused", target=endpoint, at=at)
    return True


@transaction.atomic
def delivery_replay(*, deliveries, actor, at: dt.datetime) -> int:
    """Send the given deliveries again (parked, failed or even delivered ones), with a new 3-day window."""
    deliveries = list(deliveries)
    n = Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=Delivery.Status.PENDING, retry_from=at, next_attempt_at=at, lease_until=None
    )
    for d in deliveries:
        record(actor=actor, action="webhook_delivery_replayed", target=d, at=at, event=d.public_event_id)
    return n


@transaction.atomic
def endpoint_replay_parked(*, endpoint: WebhookEndpoint, actor, at: dt.datetime) -> int:
    """Everything parked for the endpoint goes out again."""
    n = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PARKED).update(
        status=Delivery.Status.PENDING, retry_from=at, next_attempt_at=at, lease_until=None
    )
    record(actor=actor, action="webhook_parked_replayed", target=endpoint, at=at)
    return n
