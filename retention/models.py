"""Retention and churn (DOMAIN.md §8): retention cases opened by closure requests, the offers catalog, churn
records, month-end member snapshots and the KPIs' targets, and the risk list with its weights."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core import ui
from customers.models import ClosureKind, Customer, Region
from managers.models import AccountManager
from tiers.models import Tier


class ReasonCategory(models.TextChoices):
    TARIFF = "tariff", _("Tariff")
    SERVICE = "service", _("Service")
    NETWORK = "network", _("Network")
    COMPETITOR_OFFER = "competitor_offer", _("Competitor offer")
    RELOCATION = "relocation", _("Relocation")
    OTHER = "other", _("Other")


class CaseState(models.TextChoices):
    OPEN = "open", _("Open")
    CONTACTED = "contacted", _("Contacted")
    OFFER_MADE = "offer_made", _("Offer made")
    CONSIDERING = "considering", _("Considering")
    DECLINED = "declined", _("Declined")
    ESCALATED = "escalated", _("Escalated (home visit)")
    RETAINED = "retained", _("Retained")
    CHURNED = "churned", _("Churned")


CLOSED_CASE_STATES = (CaseState.RETAINED, CaseState.CHURNED)


class StepAction(models.TextChoices):
    OPENED = "opened", _("Closure request: case opened")
    REQUEST_JOINED = "request_joined", _("Another closure request")
    TRANSITION = "transition", _("Moved")
    CLOSURE_CANCELLED = "closure_cancelled", _("Closure request cancelled")
    CLOSED = "closed", _("Customer closed")
    SUSPENSION_REQUESTED = "suspension_requested", _("Requested suspension: case opened")
    REACTIVATED = "reactivated", _("Number reactivated")


class RetentionOffer(models.Model):
    """An offer a manager can make to keep a customer (the catalog; seeded, edited by staff)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("retention offer")
        verbose_name_plural = _("retention offers")

    def __str__(self) -> str:
        return ui.label(self)  # in the page's language (both names are data)


class RetentionCase(models.Model):
    """One case per closure request (a second request joins the open case), owned by the account manager."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="retention_cases")
    manager = models.ForeignKey(
        AccountManager,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retention_cases",
        verbose_name=_("account manager"),
    )
    state = models.CharField(_("state"), max_length=12, choices=CaseState.choices, default=CaseState.OPEN)
    reason_category = models.CharField(
        _("reason category"),
        max_length=20,
        choices=ReasonCategory.choices,
        blank=True,
        help_text=_("empty until the reason is known"),
    )
    reason = models.CharField(_("reason given"), max_length=200, blank=True)
    channel = models.CharField(
        _("channel of the request"), max_length=20, blank=True, help_text=_("hotline, hall, api")
    )
    requests = models.PositiveSmallIntegerField(_("closure requests"), default=1)
    offer = models.ForeignKey(
        RetentionOffer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("last offer")
    )
    visit_on = models.DateField(_("home visit on"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("retention case")
        verbose_name_plural = _("retention cases")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=~Q(state__in=["retained", "churned"]), name="retention_one_open_case"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["retained", "churned"], closed_at__isnull=False)
                | (~Q(state__in=["retained", "churned"]) & Q(closed_at__isnull=True)),
                name="retention_closed_at_iff_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "state"], name="retention_case_manager_idx"),
            models.Index(fields=["state", "opened_at"], name="retention_case_state_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_CASE_STATES


class CaseStep(models.Model):
    """Every step of a case, with who and when (append-only)."""

    case = models.ForeignKey(RetentionCase, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=20, choices=StepAction.choices)
    from_state = models.CharField(_("from"), max_length=12, choices=CaseState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=12, choices=CaseState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=60, help_text=_("user name, event id or system"))
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note"), blank=True)
    offer = models.ForeignKey(RetentionOffer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    visit_on = models.DateField(_("home visit on"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    reason_category = models.CharField(_("reason category"), max_length=20, choices=ReasonCategory.choices, blank=True)

    class Meta:
        ordering = ["case", "at", "id"]
        verbose_name = _("case step")
        verbose_name_plural = _("case steps")

    def __str__(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M} {self.get_action_display()}"


class ChurnRecord(models.Model):
    """A member (or customer) who left: one row per closure, with the tier, branch and manager at that moment
    (the closure removes the tier and ends the assignment at once, so they are kept here)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="churn_record")
    closed_on = models.DateField(_("closed on"))
    kind = models.CharField(_("closure kind"), max_length=10, choices=ClosureKind.choices)
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier at closure")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    manager = models.ForeignKey(
        AccountManager,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("account manager"),
    )
    case = models.ForeignKey(RetentionCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason_category = models.CharField(_("reason category"), max_length=20, choices=ReasonCategory.choices, blank=True)
    source = models.CharField(_("source"), max_length=60, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-closed_on", "-id"]
        verbose_name = _("churn record")
        verbose_name_plural = _("churn records")
        indexes = [models.Index(fields=["closed_on", "tier", "region"], name="churn_closed_tier_region_idx")]

    def __str__(self) -> str:
        return f"{self.closed_on:%Y-%m-%d} {self.get_kind_display()}"


class MonthSnapshot(models.Model):
    """Members at the end of a month (taken by the monthly pipeline or a command); its rows are MemberCount.
    A snapshot with no rows means zero members, which is not the same as no snapshot."""

    month = models.DateField(_("month"), unique=True, help_text=_("first day; the members on its last day"))
    members = models.PositiveIntegerField(_("members"), default=0)
    taken_at = models.DateTimeField(_("taken at"))

    class Meta:
        ordering = ["-month"]
        verbose_name = _("month-end snapshot")
        verbose_name_plural = _("month-end snapshots")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class MemberCount(models.Model):
    snapshot = models.ForeignKey(MonthSnapshot, on_delete=models.CASCADE, related_name="counts")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    members = models.PositiveIntegerField(_("members"))

    class Meta:
        verbose_name = _("members at month end")
        verbose_name_plural = _("members at month end")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "tier", "region"], name="member_count_snapshot_tier_region")
        ]

    def __str__(self) -> str:
        return str(self.members)


class SnapshotRetention(models.Model):
    """拍照保有率: of the members on a base date (default 1 January), how many are still members at a month end,
    by their tier on the base date and their branch."""

    base_date = models.DateField(_("snapshot date"))
    month = models.DateField(_("month"), help_text=_("first day; members on its last day"))
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    base_members = models.PositiveIntegerField(_("members on the snapshot date"))
    retained = models.PositiveIntegerField(_("still members at month end"))

    class Meta:
        ordering = ["base_date", "month"]
        verbose_name = _("snapshot retention")
        verbose_name_plural = _("snapshot retention")
        constraints = [
            models.UniqueConstraint(fields=["base_date", "month", "tier", "region"], name="snapshot_retention_uniq"),
            models.CheckConstraint(
                condition=Q(retained__lte=models.F("base_members")), name="snapshot_retained_le_base"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.retained}/{self.base_members}"


class ChurnTarget(models.Model):
    """The yearly churn a tier may not reach (percent of its members at the end of the previous year); no tier =
    all members. A tier without a target of its own is held to the all-members target."""

    tier = models.OneToOneField(
        Tier,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("tier"),
        help_text=_("empty: all members"),
    )
    max_rate = models.DecimalField(_("yearly churn below (%)"), max_digits=5, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier__rank"]
        verbose_name = _("churn target")
        verbose_name_plural = _("churn targets")
        constraints = [
            models.UniqueConstraint(fields=["tier"], condition=Q(tier__isnull=True), name="churn_target_one_overall"),
            models.CheckConstraint(condition=Q(max_rate__gt=0, max_rate__lte=100), name="churn_target_rate_0_100"),
        ]

    def __str__(self) -> str:
        who = ui.label(self.tier) if self.tier else _("all members")
        return f"{who} < {self.max_rate} %"


class RiskSignal(models.TextChoices):
    FALLING_SPEND = "falling_spend", _("Falling spend")
    SUSPENSION = "suspension", _("Suspensions")
    ARREARS = "arrears", _("Arrears")
    CLOSURE_REQUEST = "closure_request", _("Closure requests")
    OVERDUE_CONTACT = "overdue_contact", _("Overdue contacts")


class RiskWeight(models.Model):
    """How much a signal adds to a member's risk score (seeded, edited by staff). Score = Σ weight × count, where
    falling spend counts 1 when the last 3 bills fell by at least `parameter` % against the 3 before;
    suspensions and closure requests count those started in the last `parameter` months; arrears counts the unpaid
    bills of the last `parameter` closed months; overdue contacts counts the member's overdue obligations."""

    signal = models.CharField(_("signal"), max_length=20, choices=RiskSignal.choices, unique=True)
    weight = models.DecimalField(_("weight"), max_digits=7, decimal_places=2)
    parameter = models.PositiveSmallIntegerField(
        _("parameter"),
        default=0,
        help_text=_(
            "falling spend: minimum drop in %; suspensions, closure requests: look-back months; "
            "arrears: closed months looked at; overdue contacts: unused"
        ),
    )
    history = HistoricalRecords()

    # the parameter's bounds per signal: 0 has no useful meaning for these (the risk engine would fall back to
    # its default), so staff are told at once instead
    PARAMETER_BOUNDS = {
        RiskSignal.FALLING_SPEND: (1, 100),
        RiskSignal.SUSPENSION: (1, 60),
        RiskSignal.ARREARS: (1, 24),
        RiskSignal.CLOSURE_REQUEST: (1, 60),
    }

    class Meta:
        ordering = ["signal"]
        verbose_name = _("risk weight")
        verbose_name_plural = _("risk weights")
        constraints = [models.CheckConstraint(condition=Q(weight__gte=0), name="risk_weight_not_negative")]

    def __str__(self) -> str:
        return f"{self.get_signal_display()} × {self.weight}"

    def clean(self):
        super().clean()
        bounds = self.PARAMETER_BOUNDS.get(self.signal)
        if bounds and not bounds[0] <= (self.parameter or 0) <= bounds[1]:
            raise ValidationError(
                {
                    "parameter": _("For %(signal)s the parameter is between %(low)s and %(high)s.")
                    % {"signal": self.get_signal_display(), "low": bounds[0], "high": bounds[1]}
                }
            )


class RiskScore(models.Model):
    """A member's risk on the day of the last refresh, with the facts behind it (the reasons). Only members with a
    score above zero have a row; the table is rebuilt set-based on each refresh."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="risk_score")
    score = models.DecimalField(_("score"), max_digits=10, decimal_places=2)
    spend_recent = models.DecimalField(_("last 3 bills"), max_digits=12, decimal_places=2, default=0)
    spend_before = models.DecimalField(_("the 3 bills before"), max_digits=12, decimal_places=2, default=0)
    falling_spend = models.BooleanField(_("falling spend"), default=False)
    suspensions = models.PositiveSmallIntegerField(_("suspensions"), default=0)
    arrears = models.PositiveSmallIntegerField(_("unpaid bills"), default=0)
    closure_requests = models.PositiveSmallIntegerField(_("closure requests"), default=0)
    overdue_contacts = models.PositiveSmallIntegerField(_("overdue contacts"), default=0)
    as_of = models.DateField(_("as of"))

    class Meta:
        ordering = ["-score", "customer_id"]
        verbose_name = _("risk score")
        verbose_name_plural = _("risk list")
        indexes = [models.Index(fields=["-score", "customer"], name="risk_score_rank_idx")]

    def __str__(self) -> str:
        return f"{self.score} ({self.as_of:%Y-%m-%d})"
