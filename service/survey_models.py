"""Satisfaction (满意度, DOMAIN §9): surveys as data, the surveys sent to members (by a trigger, with a reference
that makes each trigger idempotent), the answers, and the yearly target. Imported by service.models."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Region
from managers.models import AccountManager
from tiers.models import Tier

SCORE_MIN, SCORE_MAX = 1, 5


class SurveyTrigger(models.TextChoices):
    COMPLAINT = "complaint", _("Resolved complaint")
    RETENTION = "retention", _("Closed retention case")
    FIRST_CONTACT = "first_contact", _("Completed first contact")
    SAMPLE = "sample", _("Quarterly sample")


class AnswerChannel(models.TextChoices):
    SMS = "sms", _("SMS platform (API)")
    MANAGER = "manager", _("Entered by the account manager")
    STAFF = "staff", _("Entered by staff")


class Survey(models.Model):
    """A survey (one question, scored 1–5) sent on a trigger; seeded, edited by staff. The quarterly sample's share of
    each branch's members and the repeat window live on the sample's survey."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    question = models.CharField(_("question"), max_length=300)
    trigger = models.CharField(_("trigger"), max_length=16, choices=SurveyTrigger.choices, unique=True)
    active = models.BooleanField(_("active"), default=True)
    sample_percent = models.DecimalField(
        _("sample (percent of each branch's members)"),
        max_digits=5,
        decimal_places=2,
        default=5,
        help_text=_("only for the quarterly sample"),
    )
    repeat_days = models.PositiveSmallIntegerField(
        _("not again within (days)"), default=180, help_text=_("a member sampled is not sampled again within it")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gt=0) & Q(sample_percent__lte=100), name="survey_sample_percent_range"
            )
        ]

    def __str__(self) -> str:
        return self.question


class SurveySend(models.Model):
    """A survey sent to a member: by which trigger, for what (`reference`: the complaint, the case, the obligation,
    the quarter), with her branch, tier and account manager at the time (the scores count there). `sms_at`: when
    partners wrote its `sms.requested` event (its daily pass)."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="sends", verbose_name=_("survey"))
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_sends", verbose_name=_("customer"), db_index=False
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=SurveyTrigger.choices)
    reference = models.CharField(_("reference"), max_length=40)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    manager = models.ForeignKey(
        AccountManager, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    sent_on = models.DateField(_("sent on"))
    sent_at = models.DateTimeField(_("sent at"))
    sms_at = models.DateTimeField(_("SMS requested at"), null=True, blank=True)
    answered = models.BooleanField(_("answered"), default=False)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("survey sent")
        verbose_name_plural = _("surveys sent")
        constraints = [
            models.UniqueConstraint(fields=["trigger", "reference", "customer"], name="survey_send_once"),
        ]
        indexes = [
            models.Index(fields=["customer", "sent_on"], name="survey_send_customer_idx"),
            models.Index(fields=["sent_on"], condition=Q(sms_at__isnull=True), name="survey_send_sms_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} {self.reference}"


class SurveyResponse(models.Model):
    """A member's answer to a survey sent (one per send): from the SMS platform (the API) or entered by staff."""

    send = models.OneToOneField(SurveySend, on_delete=models.CASCADE, related_name="response")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    score = models.PositiveSmallIntegerField(_("score (1–5)"))
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    answered_at = models.DateTimeField(_("answered at"))
    answered_on = models.DateField(_("answered on"), db_index=True)
    channel = models.CharField(_("channel"), max_length=10, choices=AnswerChannel.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("entered by"),
    )

    class Meta:
        ordering = ["-answered_at", "-id"]
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN) & Q(score__lte=SCORE_MAX), name="survey_response_score_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score}/5"


class SatisfactionTarget(models.Model):
    """The year's satisfaction target: the mean score and the share of 4–5 answers (%)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    mean_score = models.DecimalField(_("target mean score"), max_digits=3, decimal_places=2)
    satisfied_share = models.DecimalField(_("target share of 4–5 (%)"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("satisfaction target")
        verbose_name_plural = _("satisfaction targets")
        constraints = [
            models.CheckConstraint(
                condition=Q(mean_score__gte=1)
                & Q(mean_score__lte=5)
                & Q(satisfied_share__gte=0)
                & Q(satisfied_share__lte=100),
                name="satisfaction_target_range",
            )
        ]

    def __str__(self) -> str:
        return str(self.year)
