from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The first answer to a write that carried an `Idempotency-Key`; a replay returns it."""

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="core_idempotency_client_key_uniq")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} · {self.key}"


class JobHeartbeat(models.Model):
    """When a scheduled job last ran: shows that beat and a worker are alive."""

    name = models.CharField(max_length=100, unique=True)
    last_run_at = models.DateTimeField()

    class Meta:
        verbose_name = _("job heartbeat")
        verbose_name_plural = _("job heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_run_at:%Y-%m-%d %H:%M:%S}"


# The API scopes of other systems' tokens (issue 8). Each is a permission `core.scope_<name>` granted through a
# group `api:<scope>` (migration 0005); `create_api_client NAME --scopes …` puts a client in those groups.
API_SCOPES = {
    "read": _("read customers, tiers, benefits, points, obligations, runs and reports"),
    "pii": _("see unmasked msisdns in lists and ID numbers"),
    "customers:write": _("push regions, customers and account managers"),
    "bills:write": _("push bills and close billing months"),
    "events:write": _("push lifecycle events, contact logs and closure requests"),
    "runs:write": _("start rating runs"),
    "benefits:redeem": _("redeem and reverse benefits"),
    "points:write": _("redeem and transfer points"),
    "webhooks:manage": _("manage the webhook endpoints of partner systems"),
}


def scope_codename(scope: str) -> str:
    return "scope_" + scope.replace(":", "_")


class ApiScope(models.Model):
    """No table: the anchor of the scope permissions (content type core.apiscope)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(scope_codename(s), f"API scope {s}") for s in API_SCOPES]
        verbose_name = _("API scope")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class ActionLog(models.Model):
    """Who did a staff or system action that has no row of its own to carry the actor (closing a billing month,
    moving a card, freezing points, changing a plan…): one row, written in the action's transaction."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.CharField(_("by"), max_length=60, help_text=_("user name, event id or system"))
    action = models.SlugField(_("action"), max_length=60)
    app_label = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("action log entry")
        verbose_name_plural = _("action log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["app_label", "model", "object_id"], name="core_actionlog_target_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.app_label}.{self.model}#{self.object_id} by {self.actor}"


class OutboxEvent(models.Model):
    """An outbound event (DOMAIN §11, API.md "Outbound events"): written in the same transaction as the change it
    tells (no change without its event, no event without its change), read by the webhook delivery and the feed.
    `id` grows with every insert; the public id is `evt_<id>`. `data` always holds the customer's `msisdn`."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(_("type"), max_length=40)
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    msisdn = models.CharField(_("msisdn"), max_length=20, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    data = models.JSONField(_("data"), default=dict)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("outbound event")
        verbose_name_plural = _("outbound events")
        indexes = [
            models.Index(fields=["customer_id", "id"], name="core_outbox_customer_idx"),
            models.Index(fields=["type", "id"], name="core_outbox_type_idx"),
            models.Index(fields=["created_at"], name="core_outbox_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} {self.msisdn}"

    @property
    def event_id(self) -> str:
        return f"evt_{self.pk}"

    def as_message(self) -> dict:
        """The event as API.md shows it: {id, type, occurred_at, data}; the time in the club's zone (Asia/Shanghai,
        `+08:00`), whatever the database handed back (UTC) or the request's active zone."""
        return {
            "id": self.event_id,
            "type": self.type,
            "occurred_at": timezone.localtime(self.occurred_at, timezone.get_default_timezone()).isoformat(),
            "data": {"msisdn": self.msisdn, **self.data},
        }
