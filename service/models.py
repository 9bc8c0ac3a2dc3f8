"""Service quality (DOMAIN.md §9): complaints (投诉) with first-receiver ownership (首问负责制), their deadlines, steps,
escalations and compensation, and the policy that holds the deadlines (seeded, edited by staff)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from benefits.models import Benefit
from customers.models import Customer, Region
from tiers.models import Tier


class ComplaintChannel(models.TextChoices):
    HOTLINE = "hotline", _("Hotline")
    HALL = "hall", _("Hall")
    MANAGER = "manager", _("Account manager")
    API = "api", _("Other system (API)")


class ComplaintCategory(models.TextChoices):
    NETWORK = "network", _("Network")
    BILLING = "billing", _("Billing")
    SERVICE = "service", _("Service")
    BENEFITS = "benefits", _("Benefits")
    POINTS = "points", _("Points")
    OTHER = "other", _("Other")


class ComplaintState(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    REPLIED = "replied", _("Replied to the customer")
    ESCALATED = "escalated", _("Escalated to the supervisor")
    RESOLVED = "resolved", _("Resolved")
    REOPENED = "reopened", _("Reopened")
    CLOSED = "closed", _("Closed")


class Lateness(models.IntegerChoices):
    """The latest deadline a complaint was escalated for (the job escalates again only for a later one)."""

    NONE = 0, _("on time")
    ACKNOWLEDGE = 1, _("late to acknowledge")
    REPLY = 2, _("late to reply")
    RESOLVE = 3, _("late to resolve")


class StepAction(models.TextChoices):
    RECEIVED = "received", _("Received")
    TRANSITION = "transition", _("Moved")
    HANDOVER = "handover", _("Handed over")
    ESCALATED = "escalated", _("Escalated (late)")
    COMPENSATED = "compensated", _("Compensation posted")
    REVERSED = "reversed", _("Compensation reversed")


class ComplaintPolicy(models.Model):
    """The deadlines of complaints (DOMAIN §9); one row, `default`, seeded: acknowledge within 2 hours, reply within
    48 hours of receipt (clock hours), resolve within 5 working days (the managers' working-day calendar)."""

    code = models.SlugField(_("code"), max_length=20, unique=True, default="default")
    acknowledge_hours = models.PositiveSmallIntegerField(_("acknowledge within (hours)"), default=2)
    reply_hours = models.PositiveSmallIntegerField(_("reply within (hours)"), default=48)
    resolve_working_days = models.PositiveSmallIntegerField(_("resolve within (working days)"), default=5)
    repeat_days = models.PositiveSmallIntegerField(
        _("repeat complaint within (days)"), default=30, help_text=_("a second complaint within it counts as a repeat")
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("complaint policy")
        verbose_name_plural = _("complaint policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledge_hours__gt=0) & Q(reply_hours__gt=0) & Q(resolve_working_days__gt=0),
                name="complaint_policy_deadlines_positive",
            )
        ]

    def __str__(self) -> str:
        return self.code


OPEN_STATES = (
    ComplaintState.RECEIVED,
    ComplaintState.ACKNOWLEDGED,
    ComplaintState.REPLIED,
    ComplaintState.ESCALATED,
    ComplaintState.REOPENED,
)


class Complaint(models.Model):
    """A customer's complaint, owned by whoever received it until she hands it on (首问负责制). The branch and tier
    are the customer's at receipt (the KPIs count them there)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("customer")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier at receipt")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ComplaintChannel.choices)
    category = models.CharField(_("category"), max_length=10, choices=ComplaintCategory.choices)
    text = models.TextField(_("complaint"), max_length=4000)
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("received by"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_complaints",
        verbose_name=_("owner"),
    )
    state = models.CharField(_("state"), max_length=12, choices=ComplaintState.choices, default=ComplaintState.RECEIVED)
    ack_due_at = models.DateTimeField(_("acknowledge by"))
    reply_due_at = models.DateTimeField(_("reply by"))
    resolve_due_on = models.DateField(_("resolve by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalated = models.BooleanField(_("escalated"), default=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    lateness = models.PositiveSmallIntegerField(_("escalated for"), choices=Lateness.choices, default=Lateness.NONE)
    resolution = models.TextField(_("resolution"), blank=True)
    compensation_points = models.PositiveIntegerField(_("compensation (points)"), null=True, blank=True)
    compensation_benefit = models.ForeignKey(
        Benefit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("compensation (benefit)"),
    )
    compensation_quantity = models.PositiveIntegerField(_("compensation (benefit uses)"), null=True, blank=True)
    compensation_key = models.CharField(_("compensation posting"), max_length=100, blank=True)
    compensation_rounds = models.PositiveSmallIntegerField(default=0)
    billing_refund = models.DecimalField(
        _("billing refund (yuan)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("a billing error is refunded double by billing (收费误差，双倍返还); the club records it"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [
            models.Index(fields=["state", "ack_due_at"], name="complaint_state_ack_idx"),
            models.Index(fields=["customer", "received_at"], name="complaint_customer_idx"),
            models.Index(fields=["region", "received_at"], name="complaint_region_idx"),
            models.Index(fields=["owner", "state"], name="complaint_owner_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(billing_refund__isnull=True) | Q(billing_refund__gte=0),
                name="complaint_refund_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_category_display()} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ComplaintStep(models.Model):
    """Every step of a complaint, with who and when (append-only)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=12, choices=StepAction.choices)
    from_state = models.CharField(_("from"), max_length=12, choices=ComplaintState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=12, choices=ComplaintState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=60)
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note"), blank=True)
    owner_label = models.CharField(_("owner after"), max_length=150, blank=True)

    class Meta:
        ordering = ["complaint", "at", "id"]
        verbose_name = _("complaint step")
        verbose_name_plural = _("complaint steps")


# Club activities (DOMAIN §10) live in their own module; imported here so Django registers them with this app.
from .activities.models import Activity, ActivityTierQuota, Signup  # noqa: E402, F401, I001
from .survey_models import (  # noqa: E402, F401  the satisfaction models live in their own module
    AnswerChannel,
    SatisfactionTarget,
    Survey,
    SurveyResponse,
    SurveySend,
    SurveyTrigger,
)
# -- gifts for points (DOMAIN §10: 积分兑换) ---------------------------------------------------------------------------


class GiftDelivery(models.TextChoices):
    PICKUP = "pickup", _("Pickup at a hall")
    MAIL = "mail", _("Mail")


class GiftDeliveries(models.TextChoices):
    """How a gift may reach the member."""

    PICKUP = "pickup", _("Pickup at a hall")
    MAIL = "mail", _("Mail")
    BOTH = "both", _("Pickup or mail")


class Gift(models.Model):
    """A gift members may order for points: its price, the stock left (taken exactly under concurrency by a
    conditional update), the tiers that may order it (none: every member), how it is delivered, and for a voucher
    the days it is valid after the order."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    points = models.PositiveIntegerField(_("points price"))
    stock = models.PositiveIntegerField(_("stock"), default=0)
    tiers = models.ManyToManyField(
        Tier, blank=True, related_name="+", verbose_name=_("tiers allowed"), help_text=_("none: every member")
    )
    delivery = models.CharField(
        _("delivery"), max_length=10, choices=GiftDeliveries.choices, default=GiftDeliveries.PICKUP
    )
    voucher_valid_days = models.PositiveSmallIntegerField(
        _("voucher valid for (days)"),
        null=True,
        blank=True,
        help_text=_("a voucher: redeemable for this many days after the order; empty: not a voucher"),
    )
    active = models.BooleanField(_("on offer"), default=True)
    history = HistoricalRecords(m2m_fields=[tiers])

    class Meta:
        ordering = ["points", "code"]
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="gift_points_positive"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="gift_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} / {self.name_en}"

    def deliveries(self) -> tuple[str, ...]:
        if self.delivery == GiftDeliveries.BOTH:
            return (GiftDelivery.PICKUP.value, GiftDelivery.MAIL.value)
        return (self.delivery,)


class GiftOrderState(models.TextChoices):
    PLACED = "placed", _("Placed")
    SHIPPED = "shipped", _("Shipped to the hall")
    ARRIVED = "arrived", _("Arrived at the hall")
    COLLECTED = "collected", _("Collected")
    MAILED = "mailed", _("Mailed")
    RECEIVED = "received", _("Received by mail")
    CANCELLED = "cancelled", _("Cancelled")


class GiftOrderAction(models.TextChoices):
    PLACED = "placed", _("Placed")
    TRANSITION = "transition", _("Moved")
    EXTENDED = "extended", _("Voucher extended")


class GiftOrder(models.Model):
    """A member's order of a gift: the points it redeemed (FIFO, one ledger entry) and, if cancelled, the entry that
    returned them to their lots."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="gift_orders", verbose_name=_("customer")
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="orders", verbose_name=_("gift"))
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    points = models.PositiveIntegerField(_("points"))
    delivery = models.CharField(_("delivery"), max_length=10, choices=GiftDelivery.choices)
    state = models.CharField(_("state"), max_length=10, choices=GiftOrderState.choices, default=GiftOrderState.PLACED)
    placed_at = models.DateTimeField(_("placed at"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("placed by"),
    )
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    voucher_valid_until = models.DateField(_("voucher valid until"), null=True, blank=True)
    redemption_entry_id = models.BigIntegerField(_("points redemption (ledger entry)"), null=True, blank=True)
    return_entry_id = models.BigIntegerField(_("points returned (ledger entry)"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=220, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("gift order")
        verbose_name_plural = _("gift orders")
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="gift_order_customer_idx"),
            models.Index(fields=["state", "placed_at"], name="gift_order_state_idx"),
            models.Index(fields=["region", "placed_at"], name="gift_order_region_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(points__gt=0), name="gift_order_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.gift.name_zh} ×{self.quantity} ({self.get_state_display()})"


class GiftOrderStep(models.Model):
    """Every step of a gift order, with who and when (append-only)."""

    order = models.ForeignKey(GiftOrder, on_delete=models.CASCADE, related_name="steps", verbose_name=_("gift order"))
    action = models.CharField(_("action"), max_length=12, choices=GiftOrderAction.choices)
    from_state = models.CharField(_("from"), max_length=10, choices=GiftOrderState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=10, choices=GiftOrderState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("staff login"),
    )
    actor_label = models.CharField(_("by"), max_length=60)
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["order", "at", "id"]
        verbose_name = _("gift order step")
        verbose_name_plural = _("gift order steps")

    def __str__(self) -> str:
        return f"#{self.order_id} {self.get_action_display()} → {self.get_to_state_display()}"
