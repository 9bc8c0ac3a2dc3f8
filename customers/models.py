from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.masking import mask_id_number, mask_msisdn

# ASCII digits only: `\d` also matches Arabic-Indic and full-width digits (issue 13); `\Z`: no trailing newline
msisdn_validator = RegexValidator(r"^1[0-9]{10}\Z", _("An msisdn is 11 digits starting with 1."))


class Brand(models.TextChoices):
    GOTONE = "gotone", _("GoTone 全球通")
    MZONE = "mzone", _("M-Zone 动感地带")
    EASYOWN = "easyown", _("Easyown 神州行")


class ProductType(models.TextChoices):
    PRIMARY = "primary", _("Primary number")
    DATA_CARD = "data_card", _("Data card")
    SECONDARY = "secondary", _("Secondary number")
    IOT = "iot", _("IoT")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    PENDING_CLOSURE = "pending_closure", _("Pending closure")
    CLOSED = "closed", _("Closed")


class SuspensionKind(models.TextChoices):
    FORCED = "forced", _("Forced")
    ARREARS = "arrears", _("Arrears")
    REQUESTED = "requested", _("Requested by customer")
    HIGH_AMOUNT = "high_amount", _("High amount")
    HALF = "half", _("Half (one-way)")


class ClosureKind(models.TextChoices):
    VOLUNTARY = "voluntary", _("Voluntary")
    ARREARS = "arrears", _("Arrears")


class GroupClass(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class KeyPersonRole(models.TextChoices):
    TOP_DECISION_MAKER = "top_decision_maker", _("Top decision maker")
    CONTACT = "contact", _("Contact")
    COMMS_MIDDLE_MANAGER = "comms_middle_manager", _("Communications middle manager")
    DIVISION_CADRE = "division_cadre", _("Division cadre 处级干部")
    INFLUENCER = "influencer", _("Influencer")


class Region(models.Model):
    """A city branch and its province."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    province = models.CharField(_("province"), max_length=50)

    class Meta:
        ordering = ["province", "code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.province})"


class Customer(models.Model):
    msisdn = models.CharField(_("msisdn"), max_length=11, unique=True, validators=[msisdn_validator])
    name = models.CharField(_("name"), max_length=50)
    id_number = models.CharField(_("ID number"), max_length=18)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    join_date = models.DateField(_("join date"))
    brand = models.CharField(_("brand"), max_length=10, choices=Brand.choices)
    product_type = models.CharField(
        _("product type"), max_length=10, choices=ProductType.choices, default=ProductType.PRIMARY
    )
    plan_code = models.CharField(_("tariff plan"), max_length=20, blank=True)
    plan_started_on = models.DateField(_("plan started on"), null=True, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="customers", verbose_name=_("region"))
    landline = models.CharField(_("landline"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspension_kind = models.CharField(_("suspension kind"), max_length=12, choices=SuspensionKind.choices, blank=True)
    closure_kind = models.CharField(_("closure kind"), max_length=10, choices=ClosureKind.choices, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # the `occurred_at` of the newest lifecycle fact applied (event, admin action, retention desk): a lifecycle event
    # older than it arrived late and is recorded as superseded, not applied (vipclub.events)
    lifecycle_at = models.DateTimeField(_("latest lifecycle event at"), null=True, blank=True)
    # DOMAIN §10: members are not suspended for arrears on statutory holidays "unless they opted out" (节假日免停机);
    # changed only through points.services.holiday_opt_out_set (it tells BOSS: `privileges.changed`)
    holiday_opt_out = models.BooleanField(
        _("opted out of the holiday no-suspension"),
        default=False,
        db_default=False,  # rows written by set-based SQL (bench data, imports) take it too
        help_text=_("she asked to be suspended for arrears on statutory holidays too (节假日免停机 declined)"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["region", "status"], name="cust_region_status_idx"),
            models.Index(fields=["name"], name="cust_name_idx"),
            # the daily job's incremental run: the customers changed since the previous run, and those whose
            # birthday gift came into its window (managers.daily.changed_select) — without them a scan of the club
            models.Index(fields=["updated_at"], name="cust_updated_at_idx"),
            models.Index(fields=["birthday"], name="cust_birthday_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="suspended", suspension_kind__gt="") | ~Q(status="suspended"),
                name="cust_suspended_has_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closure_kind__gt="") | ~Q(status="closed"),
                name="cust_closed_has_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {mask_msisdn(self.msisdn)}"

    @property
    def masked_msisdn(self) -> str:
        return mask_msisdn(self.msisdn)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


class PlanPeriod(models.Model):
    """The history of a customer's tariff plan: the plan in force on a date is the latest started."""

    # indexed by plan_period_latest_idx (customer first), which the rating engine reads in order
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="plan_periods", db_index=False)
    plan_code = models.CharField(_("tariff plan"), max_length=20)
    started_on = models.DateField(_("started on"))

    class Meta:
        ordering = ["customer", "started_on"]
        verbose_name = _("plan period")
        constraints = [
            models.UniqueConstraint(fields=["customer", "started_on"], name="plan_period_customer_start_uniq")
        ]
        # the plan in force per customer, latest first: the engine's DISTINCT ON reads it without a sort
        indexes = [
            models.Index(fields=["customer", "-started_on"], name="plan_period_latest_idx"),
            # the plans that start on a day (the daily job's incremental run)
            models.Index(fields=["started_on"], name="plan_period_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_code} · {self.started_on:%Y-%m-%d}"


class StatusChange(models.Model):
    """Every lifecycle transition, for the trail and for rules that look back (suspensions)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=Status.choices)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    kind = models.CharField(max_length=12, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=40, blank=True, help_text=_("event id, admin user or command"))

    class Meta:
        ordering = ["customer", "occurred_at", "id"]
        verbose_name = _("status change")
        indexes = [models.Index(fields=["to_status", "occurred_at"], name="status_change_to_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()} · {timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M}"


class CustomerChange(models.Model):
    """Identity changes kept with the account: ownership transfer (过户) and number change (改号)."""

    class Kind(models.TextChoices):
        OWNERSHIP = "ownership_transferred", _("Ownership transfer")
        NUMBER = "number_changed", _("Number change")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identity_changes")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    before = models.JSONField()
    after = models.JSONField()
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["customer", "occurred_at", "id"]
        verbose_name = _("identity change")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M}"


class Group(models.Model):
    """A corporate group customer (集团客户) with a class A–D."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    group_class = models.CharField(_("class"), max_length=1, choices=GroupClass.choices)

    class Meta:
        ordering = ["code"]
        verbose_name = _("corporate group")
        verbose_name_plural = _("corporate groups")

    def __str__(self) -> str:
        return f"{self.name or self.code} ({self.group_class})"


class KeyPerson(models.Model):
    """A customer's role in a corporate group (集团客户关键人)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="key_persons")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="key_person_roles")
    role = models.CharField(_("role"), max_length=24, choices=KeyPersonRole.choices)
    set_at = models.DateTimeField(_("set at"))

    class Meta:
        verbose_name = _("group key person")
        verbose_name_plural = _("group key persons")
        constraints = [
            models.UniqueConstraint(fields=["group", "customer", "role"], name="key_person_group_customer_role_uniq")
        ]

    def __str__(self) -> str:
        return str(self.get_role_display())


class BillingMonth(models.Model):
    """A billing month (first day of the month); closed when billing says all its bills are in."""

    month = models.DateField(_("month"), unique=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-month"]
        verbose_name = _("billing month")
        verbose_name_plural = _("billing months")

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")


class MonthlyBill(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="bills")
    month = models.DateField(_("month"), help_text=_("first day of the billing month"))
    amount = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    paid = models.BooleanField(_("paid"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "month"]
        verbose_name = _("monthly bill")
        verbose_name_plural = _("monthly bills")
        constraints = [
            models.UniqueConstraint(fields=["customer", "month"], name="bill_customer_month_uniq"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="bill_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["month"], name="bill_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.amount}"
