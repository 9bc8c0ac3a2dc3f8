"""Club activities (DOMAIN §10, 会员活动): the catalogue (title, kind, time, place, branch or club-wide, capacity,
sign-up window, cost per head), the invited tiers with a seat quota each, and the members' sign-ups with the
waitlist. The seat counters (`confirmed` on the activity and on each tier quota) change only by conditional
UPDATEs in service.activities.services, so no more seats are ever confirmed than the capacity or a tier's quota;
check constraints hold it in the database as well."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Region
from tiers.models import Tier


class ActivityKind(models.TextChoices):
    LECTURE = "lecture", _("VIP lecture")
    PERFORMANCE = "performance", _("Performance")
    HEALTH_CHECK = "health_check", _("Health check")
    FILM = "film", _("Film thank-you")
    GET_TOGETHER = "get_together", _("Member get-together")
    OTHER = "other", _("Other")


class ActivityStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    CANCELLED = "cancelled", _("Cancelled")


class SignupStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    WAITLISTED = "waitlisted", _("Waitlisted")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("Did not come")


class SignupChannel(models.TextChoices):
    DESK = "desk", _("Account manager (desk)")
    ADMIN = "admin", _("Club staff (admin)")
    API = "api", _("Other system (API)")


SEAT_STATES = (SignupStatus.CONFIRMED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW)  # a seat is taken
ACTIVE_STATES = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)  # signed up and not cancelled


class Activity(models.Model):
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices)
    starts_at = models.DateTimeField(_("starts at"))
    place = models.CharField(_("place"), max_length=200)
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("branch"),
        help_text=_("empty: club-wide (members of every branch)"),
    )
    capacity = models.PositiveIntegerField(_("capacity (seats)"))
    signup_opens_at = models.DateTimeField(_("sign-up opens"))
    signup_closes_at = models.DateTimeField(_("sign-up closes"))
    cost_per_head = models.DecimalField(_("cost per head (yuan)"), max_digits=10, decimal_places=2, default=0)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    status = models.CharField(_("status"), max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.DRAFT)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    confirmed = models.PositiveIntegerField(_("seats confirmed"), default=0, editable=False)
    waitlist_seq = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["status", "starts_at"], name="activity_status_starts_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(confirmed__lte=F("capacity")), name="activity_confirmed_within_capacity"
            ),
            models.CheckConstraint(
                condition=Q(signup_opens_at__lt=F("signup_closes_at")) & Q(signup_closes_at__lte=F("starts_at")),
                name="activity_signup_window_before_start",
            ),
            models.CheckConstraint(condition=Q(cost_per_head__gte=0), name="activity_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d})" if self.starts_at else self.title


class ActivityTierQuota(models.Model):
    """An invited tier of an activity and its seat quota (empty: no quota of its own, only the capacity)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="quotas")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier"))
    seats = models.PositiveIntegerField(
        _("seat quota"), null=True, blank=True, help_text=_("empty: no quota of its own, only the capacity")
    )
    confirmed = models.PositiveIntegerField(_("seats confirmed"), default=0, editable=False)

    class Meta:
        ordering = ["activity", "-tier__rank"]
        verbose_name = _("invited tier")
        verbose_name_plural = _("invited tiers and seat quotas")
        constraints = [
            models.UniqueConstraint(fields=["activity", "tier"], name="activity_quota_tier_uniq"),
            models.CheckConstraint(
                condition=Q(seats__isnull=True) | Q(confirmed__lte=F("seats")), name="activity_quota_confirmed_within"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier} · {self.seats if self.seats is not None else '—'}"


class Signup(models.Model):
    """A member's sign-up. `position` orders the waitlist (a sequence number per activity, given when she was
    waitlisted); her tier and branch are those at sign-up (the quota and the report count them there)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="signups")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer"))
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier"))
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    status = models.CharField(_("status"), max_length=10, choices=SignupStatus.choices)
    position = models.PositiveIntegerField(_("waitlist number"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=6, choices=SignupChannel.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("signed up by"),
    )
    by_label = models.CharField(_("by"), max_length=60, blank=True)
    signed_up_at = models.DateTimeField(_("signed up at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    attendance_at = models.DateTimeField(_("attendance recorded at"), null=True, blank=True)

    class Meta:
        ordering = ["activity", "status", "position", "id"]
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")
        constraints = [
            models.UniqueConstraint(fields=["activity", "customer"], name="signup_activity_customer_uniq"),
        ]
        indexes = [models.Index(fields=["activity", "status", "position"], name="signup_activity_status_idx")]

    def __str__(self) -> str:
        return f"{self.activity_id}/{self.customer_id} {self.get_status_display()}"
