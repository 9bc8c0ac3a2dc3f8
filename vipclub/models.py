from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class InboundEvent(models.Model):
    """A lifecycle event pushed by another system; `event_id` makes a replay return the first answer."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        SUPERSEDED = "superseded", _("Superseded (older than the customer's latest lifecycle event)")
        REFUSED = "refused", _("Refused")

    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=30)
    msisdn = models.CharField(_("msisdn"), max_length=11)
    occurred_at = models.DateTimeField(_("occurred at"))
    data = models.JSONField(_("data"), default=dict)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(_("answer status"))
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, default=Outcome.APPLIED)
    response = models.JSONField(_("answer"))
    client = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        indexes = [models.Index(fields=["msisdn", "occurred_at"], name="event_msisdn_at_idx")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
