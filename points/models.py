"""Points (DOMAIN.md §6) and credit stars (§7).

A customer's points live in lots (one per year, kind and customer) that expire on 31 December of the year
plus the policy's expiry years; every change is an append-only ledger entry. The account row holds the
balance and the freeze and is the lock every writer takes first (select_for_update), so that for each
customer balance = Σ entries = Σ lot remaining, and no lot goes below zero (a CheckConstraint).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import Brand, Customer


class PointsAccount(models.Model):
    """The balance of a customer's points and whether they are frozen. Locked by every writer."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="points_account", verbose_name=_("customer")
    )
    balance = models.BigIntegerField(_("balance"), default=0)
    frozen = models.BooleanField(_("frozen"), default=False)
    frozen_reason = models.CharField(_("frozen because"), max_length=20, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    total_consumption = models.BigIntegerField(_("consumption points in total"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="points_account_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.balance}"


class LotKind(models.TextChoices):
    EARN = "earn", _("Consumption")
    REWARD = "reward", _("Reward")
    TRANSFER = "transfer", _("Transferred in")
    MOVED_IN = "moved_in", _("Brought along (move-in)")
    ADJUST = "adjust", _("Adjustment")


class PointsLot(models.Model):
    """The points of one year and kind: they all expire together on `expires_on`."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="points_lots", db_index=False)
    year = models.PositiveSmallIntegerField(_("year"))
    kind = models.CharField(_("kind"), max_length=10, choices=LotKind.choices)
    original = models.BigIntegerField(_("points received"))
    remaining = models.BigIntegerField(_("points left"))
    expires_on = models.DateField(_("expires on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["customer", "expires_on", "id"]
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.UniqueConstraint(fields=["customer", "year", "kind"], name="points_lot_customer_year_kind_uniq"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("original")), name="points_lot_remaining_0_original"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_on", "customer"], condition=Q(remaining__gt=0), name="points_lot_live_expiry_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.kind}: {self.remaining}/{self.original}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned (bill)")
    REWARD = "reward", _("Reward")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    TRANSFER_IN = "transfer_in", _("Transferred in")
    TRANSFER_OUT = "transfer_out", _("Transferred out")
    ADJUST = "adjust", _("Adjustment")
    CLEAR = "clear", _("Cleared (closure)")


class PointsEntry(models.Model):
    """The append-only ledger. `amount` is signed: a credit is positive, a debit negative.

    Bill earnings carry the bill's month (a correction posts the difference to what the month already
    earned); redemptions and transfers carry the caller's idempotency key (unique) and the balance after."""

    # No database FK constraint on the ledger's customer columns: its per-row trigger (a FOR KEY SHARE lookup of
    # the customer) doubled the set-based earning of 12M bills (bench/points.py). Integrity holds without it:
    # every writer first creates and locks the customer's account row, which has the constraint, and customers
    # are never deleted (closure is a status); Django still cascades a deletion.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="points_entries", db_index=False, db_constraint=False
    )
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("points"))
    year = models.PositiveSmallIntegerField(_("lot year"), null=True, blank=True)
    bill_month = models.DateField(_("bill month"), null=True, blank=True)
    counterpart = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("counterpart"),
    )
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=220, null=True, blank=True)
    balance_after = models.BigIntegerField(_("balance after"), null=True, blank=True)
    detail = models.JSONField(
        _("lots"), null=True, blank=True, help_text=_("[{year, kind, expires_on, points}] taken or given")
    )
    occurred_on = models.DateField(_("business date"))
    created_at = models.DateTimeField(_("recorded at"))
    actor = models.CharField(_("by"), max_length=40, blank=True)

    class Meta:
        ordering = ["customer", "id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        indexes = [models.Index(fields=["customer", "bill_month"], name="points_entry_cust_month_idx")]
        constraints = [
            # partial: the millions of bill entries carry no key, and index nothing
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="points_entry_idempotency_key_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d}"


class PointsPolicy(models.Model):
    """How long points live. One row (code `default`), seeded; staff edit it in the admin."""

    code = models.CharField(_("code"), max_length=30, unique=True, default="default")
    expiry_years = models.PositiveSmallIntegerField(
        _("expiry years"),
        default=2,
        help_text=_("points earned in year Y expire on 31 December of Y + this (2: a 3-year rolling clearance)"),
    )
    adjust_approval_above = models.PositiveIntegerField(
        _("adjustments needing approval above (points)"),
        default=1000,
        help_text=_(
            "a staff adjustment of more points than this (credit or debit) waits for a second staff user's approval;"
            " up to it applies at once"
        ),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")

    def __str__(self) -> str:
        return str(_("Points policy"))


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    APPLIED = "applied", _("Applied")
    REFUSED = "refused", _("Refused")


class PointsAdjustment(models.Model):
    """A staff correction of a customer's points (signed: a credit is positive), with its reason. Up to the policy's
    `adjust_approval_above` it applies at once; above it waits for a second staff user (four-eyes), who applies it
    once or refuses it with a reason."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="points_adjustments", verbose_name=_("customer")
    )
    points = models.BigIntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PENDING
    )
    on = models.DateField(_("business date"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)
    entry = models.OneToOneField(
        PointsEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustment",
        db_constraint=False,
        verbose_name=_("ledger entry"),
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("points adjustment")
        verbose_name_plural = _("points adjustments")
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_adjustment_not_zero"),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(entry__isnull=False), name="points_adjustment_applied_has_entry"
            ),
        ]
        indexes = [models.Index(fields=["status", "customer"], name="points_adjustment_status_idx")]

    def __str__(self) -> str:
        return _("%(points)+d points for %(customer)s") % {"points": self.points, "customer": self.customer}


class RewardKind(models.TextChoices):
    BRAND = "brand", _("Brand reward")
    TENURE = "tenure", _("Tenure reward")


class RewardRule(models.Model):
    """Extra points on top of a bill's consumption points, as a percentage of them.

    Every active brand rule of the customer's brand adds its percentage; of the active tenure rules the one with
    the most years that the customer has reached (full years at the end of the bill's month) adds its own."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=RewardKind.choices)
    brand = models.CharField(
        _("brand"), max_length=10, choices=Brand.choices, blank=True, help_text=_("empty: every brand")
    )
    min_years = models.PositiveSmallIntegerField(_("minimum tenure (full years)"), default=0)
    percent = models.DecimalField(
        # xgettext:no-python-format
        _("reward (% of the bill's points)"),
        max_digits=5,
        decimal_places=2,
        # xgettext:no-python-format
        help_text=_("e.g. 10 = +10 %"),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "brand", "min_years"]
        verbose_name = _("reward rule")
        verbose_name_plural = _("reward rules")
        constraints = [
            models.CheckConstraint(condition=Q(percent__gte=0) & Q(percent__lte=500), name="reward_percent_0_500")
        ]

    def __str__(self) -> str:
        return self.name


class CreditPolicy(models.Model):
    """The credit rating table of DOMAIN.md §7, as data. One row (code `default`), seeded."""

    code = models.CharField(_("code"), max_length=30, unique=True, default="default")
    brand_points = models.JSONField(_("brand points"), default=dict, help_text=_('{"gotone": 50, ...}'))
    tenure_points = models.JSONField(
        _("tenure points"), default=list, help_text=_("[[full years, points], ...]; the highest reached counts")
    )
    average_bands = models.JSONField(
        _("average bill bands"),
        default=list,
        help_text=_('[["20", 0], ["50", 20], ...]: average ≤ yuan → points, lowest band first'),
    )
    over_top_band_points = models.IntegerField(_("points above the top band"), default=250)
    bills_counted = models.PositiveSmallIntegerField(_("bills averaged"), default=6)
    suspension_penalty = models.IntegerField(_("points off per suspension"), default=100)
    suspension_months = models.PositiveSmallIntegerField(_("suspensions counted over (months)"), default=12)
    star_thresholds = models.JSONField(
        _("stars"), default=list, help_text=_("[[minimum score, stars], ...], e.g. [[500, 5], [400, 4], ...]")
    )
    reactivation_hours = models.JSONField(
        _("credit reactivation hours"),
        default=list,
        blank=True,
        help_text=_("[[minimum stars, hours], ...], e.g. [[5, 72], [4, 48], [3, 24]] (信用开机)"),
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("credit rating policy")
        verbose_name_plural = _("credit rating policy")
        constraints = [
            models.CheckConstraint(condition=Q(bills_counted__gte=1), name="credit_bills_counted_positive"),
            models.CheckConstraint(condition=Q(suspension_months__gte=1), name="credit_suspension_months_positive"),
        ]

    def __str__(self) -> str:
        return str(_("Credit rating policy"))


class CreditRating(models.Model):
    """A customer's credit stars as last computed (monthly, or on demand), with the date they are for."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="credit_rating")
    stars = models.PositiveSmallIntegerField(_("stars"))
    score = models.IntegerField(_("score"))
    as_of = models.DateField(_("as of"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("credit rating")
        verbose_name_plural = _("credit ratings")
        constraints = [models.CheckConstraint(condition=Q(stars__lte=5), name="credit_stars_0_5")]
        indexes = [models.Index(fields=["stars"], name="credit_rating_stars_idx")]

    def __str__(self) -> str:
        return f"{'★' * self.stars} ({self.score})"


class JobKind(models.TextChoices):
    EARN = "earn", _("Earning (bills)")
    EXPIRE = "expire", _("Year-end expiry")
    CREDIT = "credit", _("Credit stars")


class JobStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PointsJob(models.Model):
    """A set-based job over every customer (expiry, credit stars, earning backfill), done in customer-id chunks.

    Each chunk commits together with `last_id`, so a crashed job resumes after the last chunk done; every chunk
    is idempotent anyway (expired lots have nothing left, earnings post only differences)."""

    kind = models.CharField(_("kind"), max_length=10, choices=JobKind.choices)
    business_date = models.DateField(_("business date"))
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.RUNNING)
    last_id = models.BigIntegerField(_("last customer id done"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    counts = models.JSONField(_("counts"), default=dict)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    actor = models.CharField(_("by"), max_length=40, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("points job")
        verbose_name_plural = _("points jobs")
        constraints = [
            models.UniqueConstraint(fields=["kind", "business_date"], name="points_job_kind_date_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.business_date}"
