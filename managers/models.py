"""Account managers (客户经理), assignments, the working-day calendar, obligations and the contact trail,
membership cards, service plans, work logs and in-app notifications (DOMAIN.md §4)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import Customer, Region
from tiers.models import Tier


class AccountManager(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account_manager")
    employee_no = models.CharField(_("employee number"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=50)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="managers", verbose_name=_("region"))
    capacity = models.PositiveIntegerField(_("capacity"), default=300, help_text=_("members this manager can serve"))
    active = models.BooleanField(_("active"), default=True)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supervised_managers",
        verbose_name=_("supervisor"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["region", "employee_no"]
        verbose_name = _("account manager")
        verbose_name_plural = _("account managers")
        constraints = [models.CheckConstraint(condition=Q(capacity__gt=0), name="manager_capacity_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_no})"


class Assignment(models.Model):
    """Who serves a member (1:1). At most one active assignment per customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey(AccountManager, on_delete=models.PROTECT, related_name="assignments")
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=30, help_text=_("new_member, reassigned, left_club, …"))
    end_reason = models.CharField(_("end reason"), max_length=30, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["customer", "-started_on", "-id"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(ended_on__isnull=True), name="assignment_one_active_per_customer"
            ),
        ]
        indexes = [
            models.Index(fields=["manager"], condition=Q(ended_on__isnull=True), name="assignment_active_manager_idx"),
            # the active assignments that started on a day (the daily job's incremental run)
            models.Index(
                fields=["started_on"], condition=Q(ended_on__isnull=True), name="assignment_active_started_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.started_on:%Y-%m-%d} → {self.ended_on or '…'}"


class WorkingDayOverride(models.Model):
    """A date whose working status staff set by hand; it wins over the chinesecalendar package."""

    date = models.DateField(_("date"), unique=True)
    is_working = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=50, blank=True, help_text=_("e.g. Spring Festival, make-up day"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        verbose_name = _("working-day override")
        verbose_name_plural = _("working-day overrides")

    def __str__(self) -> str:
        return f"{self.date} {'working' if self.is_working else 'off'}"


class CalendarYear(models.Model):
    """A year staff have loaded (entered its holidays and make-up days as overrides) that the package lacks."""

    year = models.PositiveIntegerField(_("year"), unique=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["year"]
        verbose_name = _("loaded calendar year")
        verbose_name_plural = _("loaded calendar years")

    def __str__(self) -> str:
        return str(self.year)


class ObligationKind(models.TextChoices):
    FIRST_CONTACT = "first_contact", _("First contact")
    FIRST_CALL = "first_call", _("First call")
    UNREACHABLE_FOLLOWUP = "unreachable_followup", _("Unreachable follow-up")
    PERIODIC_CONTACT = "periodic_contact", _("Periodic contact")
    ROUTINE_SMS = "routine_sms", _("Routine SMS")
    ROUTINE_CALL = "routine_call", _("Routine call")
    CARD_PICKUP_NOTICE = "card_pickup_notice", _("Card pickup notice")
    CARD_RECEIPT_CHECK = "card_receipt_check", _("Card receipt check")
    CARD_PICKUP_REMINDER = "card_pickup_reminder", _("Card pickup reminder")
    CARD_DOOR_DELIVERY = "card_door_delivery", _("Card door delivery")
    BIRTHDAY_GIFT = "birthday_gift", _("Birthday gift")
    HOLIDAY_GREETING = "holiday_greeting", _("Holiday greeting")
    RETENTION_CONTACT = "retention_contact", _("Retention contact")
    COMPLAINT = "complaint", _("Complaint of a member")
    ACTIVITY_INVITATION = "activity_invitation", _("Activity invitation")
    GIFT_ARRIVED = "gift_arrived", _("Gift arrived: tell her")


class ObligationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    OVERDUE = "overdue", _("Overdue")
    CANCELLED = "cancelled", _("Cancelled")


class Cadence(models.TextChoices):
    WEEK = "week", _("Weekly")
    MONTH = "month", _("Monthly")
    QUARTER = "quarter", _("Quarterly")
    YEAR = "year", _("Yearly")


class ContactRule(models.Model):
    """Which recurring obligations a tier gets, and how often (seeded with DOMAIN §4's defaults)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="contact_rules")
    kind = models.CharField(_("kind"), max_length=24, choices=ObligationKind.choices)
    cadence = models.CharField(_("cadence"), max_length=8, choices=Cadence.choices)
    lead_days = models.PositiveSmallIntegerField(
        _("lead days"), default=0, help_text=_("birthday gift: due this many days before the birthday")
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier", "kind"]
        verbose_name = _("contact rule")
        verbose_name_plural = _("contact rules")
        constraints = [models.UniqueConstraint(fields=["tier", "kind"], name="contact_rule_tier_kind_uniq")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_cadence_display()}"


class Obligation(models.Model):
    """Something a manager owes a member by a due date; `period` makes opening it idempotent."""

    # FK indexes left out where a composite index below starts with the same column (cheaper bulk inserts).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="obligations", db_index=False)
    manager = models.ForeignKey(AccountManager, on_delete=models.PROTECT, related_name="obligations", db_index=False)
    kind = models.CharField(_("kind"), max_length=24, choices=ObligationKind.choices)
    period = models.CharField(_("period"), max_length=20, help_text=_("e.g. 2026-12, 2026-Q4, 2026-W49, a date"))
    opened_on = models.DateField(_("opened on"))
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=10, choices=ObligationStatus.choices, default=ObligationStatus.OPEN
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        "ContactLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="closed", db_index=False
    )
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("obligation")
        verbose_name_plural = _("obligations")
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "period"], name="obligation_customer_kind_period_uniq"),
        ]
        indexes = [
            models.Index(fields=["manager", "status", "due_on"], name="obligation_manager_status_idx"),
            models.Index(fields=["status", "due_on"], name="obligation_status_due_idx"),
            # the daily job looks up "already opened for this period" by kind and period first
            models.Index(fields=["kind", "period", "customer"], name="obligation_kind_period_idx"),
            models.Index(fields=["done_by"], condition=Q(done_by__isnull=False), name="obligation_done_by_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period}"


class DailyRun(models.Model):
    """A run of the daily job (managers.daily): the next run reads what changed since the last finished one (its
    start, the highest ids it saw, the rules it applied) instead of re-deriving the whole club."""

    day = models.DateField(_("day"))
    full = models.BooleanField(_("full pass"), default=False)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # the highest id of each table whose new rows the next run reads (table name → id)
    marks = models.JSONField(_("id marks"), default=dict)
    # a digest of the contact rules, the rating policy and the tiers: the next run makes a full pass when it differs
    rules = models.CharField(_("rules digest"), max_length=64, blank=True)
    counts = models.JSONField(_("counts"), default=dict)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("daily run")
        verbose_name_plural = _("daily runs")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}{' (full)' if self.full else ''}"


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    CALL = "call", _("Call")
    VISIT = "visit", _("Visit")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("Email")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    POWERED_OFF = "powered_off", _("Powered off")
    FORWARDED = "forwarded", _("Forwarded")
    REFUSED = "refused", _("Refused")


class ContactLog(models.Model):
    """The contact trail (痕迹管理): every contact with a member, by whom, how, with what outcome."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_logs")
    manager = models.ForeignKey(
        AccountManager, null=True, blank=True, on_delete=models.SET_NULL, related_name="contact_logs"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(_("source"), max_length=20, default="dashboard", help_text=_("dashboard, api, hotline"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("contact log")
        verbose_name_plural = _("contact logs")
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="contact_customer_at_idx"),
            # the daily job's "last call was unreachable" lookup
            models.Index(
                fields=["customer", "occurred_at"],
                condition=Q(channel="call", outcome__in=["powered_off", "forwarded"]),
                name="contact_unreachable_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M} {self.get_channel_display()} · {self.get_outcome_display()}"


class CardState(models.TextChoices):
    COLLECTING = "collecting", _("Collecting data")
    AT_MAKER = "at_maker", _("Sent to the card maker")
    ARRIVED = "arrived", _("Arrived")
    MAILED = "mailed", _("Mailed")
    AWAITING_PICKUP = "awaiting_pickup", _("Awaiting pickup")
    DOOR_DELIVERY = "door_delivery", _("Door delivery agreed")
    RECEIVED = "received", _("Received")


class DeliveryMode(models.TextChoices):
    MAIL = "mail", _("By mail")
    SELF_PICKUP = "self_pickup", _("Self pickup")
    DOOR = "door", _("Door delivery")


class MembershipCard(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cards")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=16, choices=CardState.choices, default=CardState.COLLECTING)
    delivery_mode = models.CharField(_("delivery"), max_length=12, choices=DeliveryMode.choices, blank=True)
    card_name = models.CharField(_("name on card"), max_length=50, blank=True)
    landline = models.CharField(_("landline"), max_length=20, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    agreed_date = models.DateField(_("agreed delivery date"), null=True, blank=True)
    reissue = models.BooleanField(_("re-issue"), default=False)
    sent_on = models.DateField(_("sent to maker on"), null=True, blank=True)
    arrived_on = models.DateField(_("arrived on"), null=True, blank=True)
    mailed_on = models.DateField(_("mailed on"), null=True, blank=True)
    received_on = models.DateField(_("received on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("membership card")
        verbose_name_plural = _("membership cards")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=~Q(state="received"), name="card_one_in_progress_per_customer"
            ),
        ]

    def __str__(self) -> str:
        return gettext("Card #%(id)s (%(state)s)") % {"id": self.pk, "state": self.get_state_display()}


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned for changes")


class ServicePlan(models.Model):
    """A manager's yearly, monthly or weekly service plan, reviewed by the supervisor."""

    class Scope(models.TextChoices):
        YEAR = "year", _("Year")
        MONTH = "month", _("Month")
        WEEK = "week", _("Week")

    manager = models.ForeignKey(AccountManager, on_delete=models.CASCADE, related_name="plans")
    scope = models.CharField(_("scope"), max_length=6, choices=Scope.choices)
    period_start = models.DateField(_("period start"))
    content = models.TextField(_("plan"))
    status = models.CharField(_("status"), max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "scope"]
        verbose_name = _("service plan")
        verbose_name_plural = _("service plans")
        constraints = [
            models.UniqueConstraint(fields=["manager", "scope", "period_start"], name="service_plan_period_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.period_start:%Y-%m-%d}"


class WorkLog(models.Model):
    """A manager's daily work log, reviewed by the supervisor."""

    manager = models.ForeignKey(AccountManager, on_delete=models.CASCADE, related_name="work_logs")
    date = models.DateField(_("date"))
    content = models.TextField(_("work done"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)

    class Meta:
        ordering = ["-date"]
        verbose_name = _("work log")
        verbose_name_plural = _("work logs")
        constraints = [models.UniqueConstraint(fields=["manager", "date"], name="work_log_manager_date_uniq")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class Notification(models.Model):
    """An in-app message to a manager or supervisor (and an email when a backend is configured)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=30)
    text = models.TextField(_("text"))
    link = models.CharField(_("link"), max_length=200, blank=True)
    day = models.DateField(_("day"))
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [models.UniqueConstraint(fields=["user", "kind", "day"], name="notification_user_kind_day_uniq")]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread_idx")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.kind}"
