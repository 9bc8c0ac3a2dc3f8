"""Partner systems (DOMAIN §11, API.md "Outbound events"): the webhook endpoints and their delivery log.

Every outbound event (core.OutboxEvent) of a type an endpoint subscribes to becomes one `Delivery` of that endpoint,
fanned out set-based by `INSERT … SELECT` behind the endpoint's `cursor` (partners.delivery). A delivery is sent,
retried with growing delays for `VIPCLUB_WEBHOOK_RETRY_WINDOW` (3 days), then parked for staff to replay."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class WebhookEndpoint(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    types = models.JSONField(_("event types"), default=list, help_text=_("the event types sent; empty: all"))
    secret = models.CharField(_("secret"), max_length=100, help_text=_("whsec_…: the signing key"))
    active = models.BooleanField(_("active"), default=True)
    paused_reason = models.CharField(_("paused because"), max_length=300, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    # Every outbox event with id <= cursor has its delivery (or was not subscribed); the cursor moves up to the feed's
    # safe horizon (core.feed).
    cursor = models.BigIntegerField(_("events fanned out up to"), default=0)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    history = HistoricalRecords(excluded_fields=["consecutive_failures", "cursor"])

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, type: str) -> bool:
        return not self.types or type in self.types


class Delivery(models.Model):
    """One event for one endpoint and what its attempts got. `customer_key` (the customer's id, else `m<msisdn>`)
    keeps a customer's events in order: a delivery is sent only when no earlier one of the same endpoint and customer
    is still pending or failed. `lease_until` is a worker's claim (a killed worker's claim runs out)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        FAILED = "failed", _("failed, will retry")
        DELIVERED = "delivered", _("delivered")
        PARKED = "parked", _("parked")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.BigIntegerField(_("event"))  # core.OutboxEvent.id (the outbox is pruned; the log stays)
    type = models.CharField(_("type"), max_length=40)
    customer_key = models.CharField(max_length=40)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    retry_from = models.DateTimeField(_("retried since"))  # the 3-day window's start (a replay restarts it)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("answer"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=300, blank=True)
    last_duration_ms = models.PositiveIntegerField(_("time (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="partners_delivery_endpoint_event_uniq"),
        ]
        indexes = [
            # the due deliveries of an endpoint, in event order
            models.Index(
                fields=["endpoint", "event_id"],
                name="partners_delivery_open_idx",
                condition=Q(status__in=["pending", "failed"]),
            ),
            # "an earlier open delivery of the same customer"
            models.Index(
                fields=["endpoint", "customer_key", "event_id"],
                name="partners_delivery_customer_idx",
                condition=Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["endpoint", "status"], name="partners_delivery_status_idx"),
        ]

    def __str__(self) -> str:
        return f"evt_{self.event_id} → {self.endpoint_id} ({self.status})"

    @property
    def public_event_id(self) -> str:
        return f"evt_{self.event_id}"


# -- member SMS (DOMAIN §11) ------------------------------------------------------------------------------------------


class SmsKind(models.TextChoices):
    """What an SMS tells; one template per kind and language (partners.sms_rules lists each kind's placeholders)."""

    TIER_UP = "tier_up", _("tier up")
    TIER_DOWN = "tier_down", _("tier down")
    TIER_EXPIRING = "tier_expiring", _("tier expiring")
    POINTS_EXPIRING = "points_expiring", _("points expiring")
    CARD_ARRIVED = "card_arrived", _("card arrived")
    GIFT_ARRIVED = "gift_arrived", _("gift arrived")
    BIRTHDAY = "birthday", _("birthday greeting")
    SURVEY = "survey", _("survey")


class SmsTemplate(models.Model):
    """The text of one kind of member SMS in one language, with `{placeholders}` filled per member. A service notice
    also goes to members who opted out of SMS; the others (marketing) do not."""

    class Language(models.TextChoices):
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    kind = models.CharField(_("kind"), max_length=20, choices=SmsKind.choices)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    body = models.TextField(_("text"), help_text=_("placeholders in braces, e.g. {name}; see the list below"))
    active = models.BooleanField(_("active"), default=True)
    service_notice = models.BooleanField(
        _("service notice"), default=False, help_text=_("sent also to members who opted out of SMS")
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="partners_smstemplate_kind_language_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class SmsOptOut(models.Model):
    """A member who wants no marketing SMS (service notices still go)."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="sms_opt_out", verbose_name=_("customer")
    )
    opted_out_at = models.DateTimeField(_("opted out at"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.CharField(_("recorded by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("SMS opt-out")
        verbose_name_plural = _("SMS opt-outs")
        ordering = ["-opted_out_at"]

    def __str__(self) -> str:
        return str(self.customer)


class SmsCursor(models.Model):
    """The one row of the SMS step's progress (partners.sms): every outbox event with id <= `cursor` has been looked
    at; `daily_on`: the last business date whose daily SMS (birthdays, cards arrived, the November points list) were
    requested."""

    cursor = models.BigIntegerField(default=0)
    daily_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS step progress")
        verbose_name_plural = _("SMS step progress")
