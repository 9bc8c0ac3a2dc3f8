"""The benefit catalog, what each tier is entitled to, the customers' accounts and their append-only ledger.

Quotas are whole numbers in the benefit's unit, so the atomic conditional UPDATE of a redemption is exact on
PostgreSQL and SQLite alike (SQLite has no exact decimal arithmetic): a use for `count` and `hours` benefits,
a fen (1/100 yuan) for `money` benefits. `rules.to_display` turns them back into yuan.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core import ui
from customers.models import Customer
from tiers.models import Tier


class Unit(models.TextChoices):
    COUNT = "count", _("Count")
    MONEY = "money", _("Money (yuan)")
    HOURS = "hours", _("Hours")
    FLAG = "flag", _("Flag (yes/no)")


class Period(models.TextChoices):
    YEAR = "year", _("Calendar year")
    MONTH = "month", _("Calendar month")
    EVENT = "event", _("Per event")
    NONE = "none", _("No period")


class Benefit(models.Model):
    """One benefit of the catalog (DOMAIN §5). What each tier gets is a `TierEntitlement`."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices)
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    validity_days = models.PositiveSmallIntegerField(
        _("valid for (days)"), null=True, blank=True, help_text=_("a claim is valid this many days from the claim")
    )
    redeemable_while_suspended = models.BooleanField(
        _("redeemable while suspended for arrears"),
        default=False,
        help_text=_("e.g. emergency reactivation: usable while suspended for arrears, high amount or one-way"),
    )
    refuse_old_arrears = models.BooleanField(
        _("refused with old arrears"),
        default=False,
        help_text=_("refused when an unpaid bill is older than the month before the redemption"),
    )
    for_key_person_floor = models.BooleanField(
        _("given on a key-person floor"),
        default=False,
        help_text=_(
            "also given when the tier comes only from a group key person's floor, which gives only the airport "
            "lounge and the priority (green-channel) benefits"
        ),
    )
    active = models.BooleanField(_("offered"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("order in lists"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")

    def __str__(self) -> str:
        return ui.label(self)  # in the page's language (both names are data)


class TierEntitlement(models.Model):
    """What a tier gets of a benefit. Which fields count depends on the benefit's unit:
    count → quantity per period (or unlimited); money → money cap per period or per event;
    hours → hours per use and at most `per_month_limit` uses a month; flag → the row itself (and a percent)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="entitlements", verbose_name=_("tier"))
    benefit = models.ForeignKey(
        Benefit, on_delete=models.CASCADE, related_name="entitlements", verbose_name=_("benefit")
    )
    quantity = models.PositiveIntegerField(_("quantity per period"), null=True, blank=True)
    money_cap = models.DecimalField(
        _("money cap (yuan)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("per period, or per event for per-event benefits"),
    )
    hours = models.PositiveSmallIntegerField(_("hours per use"), null=True, blank=True)
    per_month_limit = models.PositiveSmallIntegerField(_("uses per month"), null=True, blank=True)
    unlimited = models.BooleanField(_("unlimited"), default=False)
    percent = models.PositiveSmallIntegerField(
        _("percent"), null=True, blank=True, help_text=_("for a waiver or discount flag, e.g. 100")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["benefit__position", "benefit__code", "-tier__rank"]
        verbose_name = _("tier entitlement")
        verbose_name_plural = _("tier entitlements")
        constraints = [
            models.UniqueConstraint(fields=["tier", "benefit"], name="entitlement_tier_benefit_uniq"),
            models.CheckConstraint(
                condition=Q(money_cap__isnull=True) | Q(money_cap__gt=0), name="entitlement_money_cap_positive"
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__lte=100), name="entitlement_percent_le_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier.code} · {self.benefit.code}"

    def clean(self):
        from django.core.exceptions import ValidationError

        from . import rules

        if self.benefit_id is None:
            return
        problems = rules.entitlement_problems(
            unit=self.benefit.unit,
            period=self.benefit.period,
            quantity=self.quantity,
            money_cap=self.money_cap,
            hours=self.hours,
            per_month_limit=self.per_month_limit,
            unlimited=self.unlimited,
        )
        if problems:
            raise ValidationError({field: [str(m) for m in messages] for field, messages in problems.items()})


class BenefitAccount(models.Model):
    """A customer's quota of one benefit in one period (a year, a month, an event, or none):
    `granted` and `used` in the benefit's whole units (uses, or fen for money)."""

    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="benefit_accounts",
        verbose_name=_("customer"),
        db_index=False,  # the unique (customer, benefit, period_key) index leads with it
    )
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("benefit"))
    period_key = models.CharField(
        _("period"), max_length=120, help_text=_("2026 for a year, 2026-10 for a month, event:REF for an event")
    )
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    granted = models.BigIntegerField(_("granted"), default=0)
    used = models.BigIntegerField(_("used"), default=0)
    # units granted beyond the tier's quota as compensation for a complaint (DOMAIN §9 服务差错主动补偿): the grant sync
    # keeps them (the grant it aims at is the quota plus these, never below what was used)
    extra = models.BigIntegerField(
        _("compensation"), default=0, db_default=0, help_text=_("uses granted beyond the quota as compensation")
    )
    unlimited = models.BooleanField(_("unlimited"), default=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["customer", "benefit__position", "-period_start"]
        verbose_name = _("benefit account")
        verbose_name_plural = _("benefit accounts")
        constraints = [
            models.UniqueConstraint(fields=["customer", "benefit", "period_key"], name="benefit_account_period_uniq"),
            models.CheckConstraint(condition=Q(used__gte=0), name="benefit_account_used_not_negative"),
            models.CheckConstraint(condition=Q(granted__gte=0), name="benefit_account_granted_not_negative"),
            models.CheckConstraint(condition=Q(extra__gte=0), name="benefit_account_extra_not_negative"),
            models.CheckConstraint(
                condition=Q(unlimited=True) | Q(used__lte=F("granted")), name="benefit_account_used_le_granted"
            ),
        ]
        indexes = [
            # the grants find the accounts of the current periods, and the ended ones with something left to expire
            models.Index(fields=["period_key", "customer"], name="benefit_account_period_cust"),
            models.Index(
                fields=["period_end", "customer"],
                condition=Q(granted__gt=F("used"), unlimited=False, period_end__isnull=False),
                name="benefit_account_unexpired",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benefit.code} {self.period_key or '—'}"

    @property
    def remaining(self) -> int | None:
        return None if self.unlimited else self.granted - self.used


class EntryKind(models.TextChoices):
    GRANT = "grant", _("Grant")
    REDEEM = "redeem", _("Redemption")
    REVERSE = "reverse", _("Reversal")
    EXPIRE = "expire", _("Expiry")
    ADJUST = "adjust", _("Adjustment")


class AppendOnly(Exception):
    pass


class BenefitEntry(models.Model):
    """The append-only ledger. For every account, `granted` = Σ granted_delta (grant, adjust, expire) and
    `used` = Σ used_delta (redeem, reverse). Rows are never changed or deleted."""

    # Few indexes on the ledger, the biggest table: the composite ones below lead with account and customer.
    account = models.ForeignKey(BenefitAccount, on_delete=models.PROTECT, related_name="entries", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="benefit_entries", db_index=False)
    benefit = models.ForeignKey(
        Benefit, on_delete=models.PROTECT, related_name="entries", verbose_name=_("benefit"), db_index=False
    )
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    granted_delta = models.BigIntegerField(_("granted change"), default=0)
    used_delta = models.BigIntegerField(_("used change"), default=0)
    remaining_after = models.BigIntegerField(_("remaining after"), null=True, blank=True)
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("tier"), db_index=False
    )
    hours = models.PositiveSmallIntegerField(_("hours"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    occurred_on = models.DateField(_("date"))
    actor = models.CharField(_("by"), max_length=60)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, null=True, blank=True, unique=True)
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal", verbose_name=_("reverses")
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("benefit ledger entry")
        verbose_name_plural = _("benefit ledger")
        indexes = [
            models.Index(fields=["customer", "occurred_on"], name="benefit_entry_customer_on"),
            models.Index(fields=["kind", "occurred_on"], name="benefit_entry_kind_on"),
            models.Index(fields=["account", "kind"], name="benefit_entry_account_kind"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["redeem", "reverse"]) | Q(used_delta=0), name="benefit_entry_only_uses_use"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["redeem", "reverse"]) | Q(granted_delta=0),
                name="benefit_entry_uses_grant_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.benefit_id} #{self.pk}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnly("The benefit ledger is append-only: entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The benefit ledger is append-only: entries are never deleted.")
