"""Tiers, rating policies, the customer's current tier, its history, rating runs, overrides."""

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core import ui
from core.ui import label
from customers.models import Customer


class Tier(models.Model):
    """A club tier; data, ordered by rank (higher rank = better). Adding platinum or guest is a row."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=30)
    name_en = models.CharField(_("English name"), max_length=30)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("higher is better"))
    # The score a tier needs is the rating policy's (RatingPolicy.thresholds): one place, per policy.
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-rank"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return ui.label(self)  # in the page's language (both names are data)


class PolicyKind(models.TextChoices):
    ANNUAL_COMPOSITE = "annual_composite", _("Annual composite (bills of 12 months + tenure bonus)")
    AVERAGE_SPEND = "average_spend", _("Average monthly spend")


class RatingPolicy(models.Model):
    """How customers are rated. Maps are JSON so that staff can edit them; see DOMAIN.md §3."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100, blank=True, help_text=_("empty: the name above"))
    kind = models.CharField(_("kind"), max_length=20, choices=PolicyKind.choices)
    active = models.BooleanField(
        _("scheduled"), default=False, help_text=_("the monthly schedule runs active policies")
    )
    window_months = models.PositiveSmallIntegerField(_("window (months)"), default=12)
    thresholds = models.JSONField(
        _("thresholds"),
        default=dict,
        blank=True,
        help_text=_("the score each tier needs; a tier without one is won by floors only"),
    )
    tenure_bonus = models.JSONField(
        _("tenure bonus"),
        default=list,
        blank=True,
        help_text=_("[[years, bonus], ...], e.g. [[10, 300], [3, 200], [1, 100]]"),
    )
    min_tenure_months = models.PositiveSmallIntegerField(_("minimum tenure to win by score (months)"), default=12)
    validity_months = models.PositiveSmallIntegerField(_("validity (months)"), default=12)
    expiry_day = models.PositiveSmallIntegerField(
        _("expiry day"),
        null=True,
        blank=True,
        help_text=_("empty: valid to the end of month M+11; D: to day D of month M+12"),
    )
    plan_tiers = models.JSONField(_("plan floors"), default=dict, blank=True, help_text=_('{"388": "gold", ...}'))
    key_person_tiers = models.JSONField(
        _("key-person floors"),
        default=list,
        blank=True,
        help_text=_('[{"role": "top_decision_maker", "group_class": "A", "tier": "diamond"}, ...]; no class = any'),
    )
    run_day = models.PositiveSmallIntegerField(_("run day of month"), default=1)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("rating policy")
        verbose_name_plural = _("rating policies")
        constraints = [
            models.CheckConstraint(condition=Q(run_day__gte=1, run_day__lte=28), name="policy_run_day_1_28"),
            models.CheckConstraint(
                condition=Q(expiry_day__isnull=True) | Q(expiry_day__gte=1, expiry_day__lte=28),
                name="policy_expiry_day_1_28",
            ),
            models.CheckConstraint(condition=Q(window_months__gte=1, window_months__lte=36), name="policy_window_1_36"),
        ]

    def __str__(self) -> str:
        return ui.in_language(self.name_zh or self.name, self.name)  # the page's language (both names are data)

    def save(self, *args, **kwargs):
        if self.pk:
            self.version = (type(self).objects.filter(pk=self.pk).values_list("version", flat=True).first() or 0) + 1
        super().save(*args, **kwargs)


class PolicyChangeStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    SCHEDULED = "scheduled", _("Approved, applies from its month")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")


class PolicyChange(models.Model):
    """An edit of an active rating policy: proposed by one staff user, approved by another (four-eyes), applied
    from its effective month (at once when that month has begun, else before that month's run). `values` holds
    every rating field as proposed; `base_run` and `draft_run` are the dry runs of its what-if."""

    policy = models.ForeignKey(
        RatingPolicy, on_delete=models.CASCADE, related_name="changes", verbose_name=_("rating policy")
    )
    values = models.JSONField(_("proposed values"))
    effective_month = models.DateField(_("effective month"))
    note = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=PolicyChangeStatus.choices, default=PolicyChangeStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    created_at = models.DateTimeField(_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    base_run = models.ForeignKey(
        "RatingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("what-if now")
    )
    draft_run = models.ForeignKey(
        "RatingRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("what-if with the change"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("policy change")
        verbose_name_plural = _("policy changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_by__isnull=False), name="policy_change_decided_has_decider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.effective_month:%Y-%m} #{self.pk}"


class Source(models.TextChoices):
    SCORE = "score", _("Score")
    PLAN = "plan", _("Tariff plan")
    KEY_PERSON = "key_person", _("Group key person")
    TRANSFER = "transfer", _("Cross-region move-in")
    OVERRIDE = "override", _("Staff override")
    CLOSURE = "closure", _("Closure")


class CustomerTier(models.Model):
    """A customer's current tier. Written only by the rating engine (and its closure/override services)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="tier_state")
    # no database FK or extra index on the engine's bulk-written tables (see NO_DB_FK below)
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    since = models.DateField(_("since"), null=True, blank=True)
    # Beside a floor (source not score): the score-won tier it lifted her above and that tier's validity, to fall
    # back to when the floor lapses while it is still valid (只升不降 across floors). Empty when source is score.
    score_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("score tier beside the floor"),
    )
    score_valid_until = models.DateField(_("score tier valid until"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("current tier")
        verbose_name_plural = _("current tiers")
        # Beside the engine's bulk writes, the daily job reads this table every day for a few states: validities
        # ending in 30 days (tier.expiring), validities that ended since its previous run, states updated since,
        # key persons. Without these indexes each was a scan of every member's state (85 ms of an ordinary day's
        # 323 ms at 1M customers). They cost the engine only on the rows it changes (a new updated_at, usually a new
        # validity: new index entries, where a renewal kept its tier and was a HOT update before); bench/rerate.py
        # measured the steady month before and after (README "Scaling").
        indexes = [
            models.Index(fields=["tier"], name="customer_tier_tier_idx"),
            models.Index(
                Case(When(source="score", then=F("valid_until")), default=F("score_valid_until")),
                name="customer_tier_validity_idx",
            ),
            models.Index(fields=["updated_at"], name="customer_tier_updated_idx"),
            models.Index(fields=["customer"], condition=Q(source="key_person"), name="customer_tier_key_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} · {self.since or '—'}"


def score_validity(alias: str = "") -> str:
    """SQL of the score-won validity of a current tier row (`alias`: its table's alias with the dot): the tier's own
    when held by score, else the score tier's kept beside the floor. Written as the index customer_tier_validity_idx
    has it, so that PostgreSQL finds the rows of a date by that index."""
    return f"CASE WHEN {alias}source = 'score' THEN {alias}valid_until ELSE {alias}score_valid_until END"


def score_tier(alias: str = "") -> str:
    """SQL of the score-won tier of a current tier row, beside `score_validity`: the tier itself when held by score,
    else the score tier kept beside the floor."""
    return f"CASE WHEN {alias}source = 'score' THEN {alias}tier_id ELSE {alias}score_tier_id END"


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RatingRun(models.Model):
    policy = models.ForeignKey(RatingPolicy, on_delete=models.PROTECT, related_name="runs")
    policy_version = models.PositiveIntegerField(_("policy version"))
    policy_snapshot = models.JSONField(_("policy used"), help_text=_("the exact policy (and tier thresholds) used"))
    month = models.DateField(_("month"))
    evaluation_date = models.DateField(_("evaluation date"))
    dry_run = models.BooleanField(_("dry run"), default=False)
    forced = models.BooleanField(_("forced"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    progress_done = models.PositiveIntegerField(_("customers done"), default=0)
    progress_total = models.PositiveIntegerField(_("customers in total"), default=0)
    counts = models.JSONField(_("counts"), default=dict)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When the chunks were last sent to the workers (or taken up by an in-process run); empty while the broker
    # could not be reached: the frequent check (tiers.heal_runs) dispatches such a run when the broker is back.
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    pipeline_done_at = models.DateTimeField(_("pipeline done at"), null=True, blank=True)
    # The steps of the monthly follow-up (vipclub.pipeline) done for this run, in order, each recorded in the
    # transaction of the step: a follow-up that runs again skips them.
    pipeline_steps = models.JSONField(_("follow-up steps done"), default=list, blank=True)
    pipeline_note = models.CharField(_("follow-up note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rating run")
        verbose_name_plural = _("rating runs")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "month"], condition=Q(dry_run=False), name="rating_run_one_per_policy_month"
            )
        ]

    def __str__(self) -> str:
        kind = _("dry run") if self.dry_run else _("run")
        return f"{self.policy.code} {self.month:%Y-%m} {kind} #{self.pk}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RatingChunk(models.Model):
    """An id range of customers in a run; done in one transaction, so a crashed run resumes by chunk."""

    run = models.ForeignKey(RatingRun, on_delete=models.CASCADE, related_name="chunks")
    lo = models.BigIntegerField()
    hi = models.BigIntegerField()
    customers = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False)
    counts = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "lo"]
        constraints = [models.UniqueConstraint(fields=["run", "lo"], name="rating_chunk_run_lo_uniq")]

    def __str__(self) -> str:
        return f"{self.lo}–{self.hi}"


class Transition(models.TextChoices):
    JOINED = "joined", _("Joined")
    UPGRADED = "upgraded", _("Upgraded")
    RENEWED = "renewed", _("Renewed")
    UNCHANGED = "unchanged", _("Unchanged")
    HELD = "held", _("Held (validity)")
    DOWNGRADED = "downgraded", _("Downgraded")
    LEFT = "left", _("Left")


# NO_DB_FK: the rating engine writes the history, the dry-run changes and the current tiers in bulk, each row
# from a join with the customers and tiers it names, in the statement that inserts it. Database foreign keys
# there only re-checked that: a key-share lock per row on the customer, and multixacts on the few tier and run
# rows that parallel chunks all reference, measured at 10 % of a run; their indexes on from/to tier and run
# (covered by the (run, customer) index) cost every insert. The ORM still protects and cascades (on_delete).
NO_DB_FK = {"db_constraint": False}


class ChangeColumns(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False, **NO_DB_FK)
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, **NO_DB_FK
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, **NO_DB_FK
    )
    transition = models.CharField(_("transition"), max_length=12, choices=Transition.choices)
    reason = models.CharField(_("reason"), max_length=12, choices=Source.choices)
    score = models.DecimalField(_("score"), max_digits=14, decimal_places=2, null=True, blank=True)
    effective_on = models.DateField(_("effective on"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        abstract = True


class TierChange(ChangeColumns):
    """The history: every change of a customer's tier, source or validity."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_changes", **NO_DB_FK)
    run = models.ForeignKey(
        RatingRun, on_delete=models.PROTECT, null=True, blank=True, related_name="changes", db_index=False, **NO_DB_FK
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["customer", "id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["run", "customer"], name="tier_change_run_customer_idx")]

    def __str__(self) -> str:
        return f"{self.effective_on:%Y-%m-%d} {self.get_transition_display()}"


class DryRunChange(ChangeColumns):
    """What a dry run would change; never touches a customer."""

    run = models.ForeignKey(RatingRun, on_delete=models.CASCADE, related_name="dry_changes", db_index=False, **NO_DB_FK)

    class Meta:
        ordering = ["run", "customer"]
        indexes = [models.Index(fields=["run", "customer"], name="dry_change_run_customer_idx")]

    def __str__(self) -> str:
        return f"{self.effective_on:%Y-%m-%d} {self.get_transition_display()}"


class OverrideStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REVOKED = "revoked", _("Revoked")


class TierOverride(models.Model):
    """A staff decision on a customer's exact tier (up or down) until an end date; wins while active.
    A second staff user approves it before it applies."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_overrides")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    status = models.CharField(
        _("status"), max_length=10, choices=OverrideStatus.choices, default=OverrideStatus.PENDING
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")),
                name="override_ends_after_start",
                violation_error_message=_("The end date is before the start date."),
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(approved_by__isnull=False), name="override_approved_has_approver"
            ),
        ]
        indexes = [models.Index(fields=["customer", "status"], name="override_customer_status_idx")]

    def __str__(self) -> str:
        return gettext("Override #%(id)s to %(tier)s") % {
            "id": self.pk,
            "tier": label(self.tier) if self.tier_id else "—",
        }


class TransferFloor(models.Model):
    """A cross-region move-in (跨区入网): the tier brought along is kept until 31 December of the move's year."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="transfer_floors")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    from_region = models.CharField(_("from region"), max_length=50)
    moved_on = models.DateField(_("moved on"))
    kept_until = models.DateField(_("kept until"))

    class Meta:
        ordering = ["customer", "moved_on"]
        verbose_name = _("move-in floor")
        verbose_name_plural = _("move-in floors")

    def __str__(self) -> str:
        return f"{self.from_region} · {self.moved_on:%Y-%m-%d} → {self.kept_until:%Y-%m-%d}"
