"""Every write of the benefits app: grants (set-based), redemptions, reversals.

A redemption never locks: it is one conditional `UPDATE … SET used = used + n WHERE id = … AND used + n <=
granted`, and zero rows means the quota is exhausted — exact under concurrency on PostgreSQL and SQLite
(ARCHITECTURE "Benefit quota"). Each write appends a ledger entry in the same transaction.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core import outbox
from core.actors import actor_label
from core.errors import InvalidInput, NotFoundError, RuleViolation
from customers.models import Customer, MonthlyBill
from tiers.models import CustomerTier

from . import engine, rules
from .models import Benefit, BenefitAccount, BenefitEntry, EntryKind, TierEntitlement

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Grants


def benefit_grants_sync(
    *,
    on: dt.date,
    customer_ids=None,
    lo: int | None = None,
    hi: int | None = None,
    benefit_ids=None,
    expire_past: bool = True,
    actor=None,
) -> dict[str, int]:
    """Bring the accounts of some customers (a list, or an id range) in line with their current tier, as of
    `on`: open the current year's and month's accounts, re-grant on a tier change (what was used stays
    used), reduce to what was used on leaving the club, and expire the rest of ended periods. Idempotent."""
    scope = engine.Scope(
        lo=lo,
        hi=hi,
        customer_ids=tuple(customer_ids) if customer_ids is not None else None,
        benefit_ids=tuple(benefit_ids) if benefit_ids is not None else None,
    )
    with transaction.atomic():
        return engine.sync(scope=scope, on=on, expire_past=expire_past, actor=actor_label(actor))


def benefit_grants_run(*, on: dt.date, chunk_size: int | None = None, actor=None) -> dict[str, int]:
    """The grants of every customer as of `on`, in id-range chunks of one transaction each. Run at each
    period start and after every applied rating run; a crashed run is simply run again."""
    size = chunk_size or getattr(settings, "VIPCLUB_BENEFIT_CHUNK_SIZE", None) or settings.VIPCLUB_RATING_CHUNK_SIZE
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"))
    totals: dict[str, int] = {}
    if bounds["lo"] is None:
        return totals
    for lo in range(bounds["lo"], bounds["hi"] + 1, size):
        counts = benefit_grants_sync(on=on, lo=lo, hi=min(lo + size - 1, bounds["hi"]), actor=actor)
        for kind, n in counts.items():
            totals[kind] = totals.get(kind, 0) + n
    logger.info("Benefit grants as of %s: %s", on, totals)
    return totals


def benefit_regrant_customer(*, customer_id: int, on: dt.date, actor=None) -> dict[str, int]:
    """A tier changed between runs (override, move-in, closure): the quota becomes the new tier's at once."""
    return benefit_grants_sync(on=on, customer_ids=[customer_id], expire_past=False, actor=actor)


# --------------------------------------------------------------------------------------------------
# Redemption


@dataclass(frozen=True)
class Redemption:
    entry: BenefitEntry
    benefit: Benefit
    account: BenefitAccount
    remaining: int | None  # whole units after this redemption; None when unlimited
    replayed: bool = False

    def as_dict(self) -> dict:
        unit = self.benefit.unit
        body = {
            "id": self.entry.pk,
            "remaining": rules.to_display(unit, self.remaining),
            "benefit": self.benefit.code,
            "unit": unit,
            "period_start": self.account.period_start,
            "used": rules.to_display(unit, self.entry.used_delta),
            "unlimited": self.account.unlimited,
        }
        if self.entry.hours is not None:
            body["hours"] = self.entry.hours
        if self.entry.valid_until is not None:
            body["valid_until"] = self.entry.valid_until
        return body


def _current_entitlement(customer: Customer, benefit: Benefit) -> tuple[int | None, str, TierEntitlement | None]:
    """The customer's tier, where it comes from (score, a floor), and its entitlement to the benefit."""
    state = CustomerTier.objects.filter(customer=customer).values_list("tier_id", "source").first()
    tier_id, source = state or (None, "")
    if tier_id is None:
        return None, "", None
    return tier_id, source, TierEntitlement.objects.filter(tier_id=tier_id, benefit=benefit).first()


def _units_requested(benefit: Benefit, quantity: int, amount: Decimal | None) -> int:
    """Validate quantity/amount against the benefit's unit (400 naming the field) and return the units."""
    if benefit.unit == rules.FLAG:
        raise InvalidInput(
            f"{benefit.code} is a flag: it is read per customer, never redeemed.",
            code="not_redeemable",
            fields={"benefit": ["a flag benefit cannot be redeemed"]},
        )
    if quantity is None or quantity < 1:
        raise InvalidInput("The quantity must be at least 1.", fields={"quantity": ["must be at least 1"]})
    if benefit.unit == rules.MONEY:
        problems = {}
        if amount is None:
            problems["amount"] = [f"{benefit.code} is a money benefit: the amount in yuan is required"]
        elif amount <= 0 or amount != amount.quantize(rules.FEN):
            problems["amount"] = ["a positive amount in yuan with at most 2 decimals"]
        if quantity != 1:
            problems["quantity"] = ["a money benefit is redeemed by amount: quantity must be 1"]
        if problems:
            raise InvalidInput("The redemption is invalid: " + "; ".join(problems), fields=problems)
        return rules.yuan_to_fen(amount)
    if amount is not None:
        raise InvalidInput(
            f"{benefit.code} is not a money benefit: send a quantity, not an amount.",
            fields={"amount": [f"not used for a {benefit.unit} benefit"]},
        )
    if benefit.unit == rules.HOURS and quantity != 1:
        raise InvalidInput(
            "An emergency reactivation is one use at a time: quantity must be 1.",
            fields={"quantity": ["must be 1 for an hours benefit (one use)"]},
        )
    return quantity


def _account_for(
    *,
    customer: Customer,
    benefit: Benefit,
    entitlement: TierEntitlement,
    quota_units: int,
    tier_id: int,
    on: dt.date,
    at: dt.datetime,
    reference: str,
) -> BenefitAccount:
    """The account the redemption draws on; opened (and granted, once) when missing, and brought in line with
    the current tier when a rating run changed it and the pipeline's grants have not followed yet (only while
    its period has not ended at `at`, when the redemption is recorded: a back-dated one leaves a past period be)."""
    bounds = rules.period_bounds(benefit.period, on, reference)
    lookup = {"customer": customer, "benefit": benefit, "period_key": bounds.key}
    account = BenefitAccount.objects.filter(**lookup).first()
    if account is not None:
        stale = account.unlimited != entitlement.unlimited or (
            not account.unlimited and account.granted != max(quota_units + account.extra, account.used)
        )
        current = account.period_end is None or account.period_end >= timezone.localdate(at)
        if stale and current and benefit.period != rules.EVENT:
            engine.sync(
                scope=engine.Scope(customer_ids=(customer.pk,), benefit_ids=(benefit.pk,)),
                on=on,
                create=False,
                expire_past=False,
            )
            account = BenefitAccount.objects.get(pk=account.pk)
        return account
    if benefit.period in rules.PERIODIC:
        engine.sync(
            scope=engine.Scope(customer_ids=(customer.pk,), benefit_ids=(benefit.pk,)),
            on=on,
            expire_past=False,
            actor="system",
        )
        account = BenefitAccount.objects.filter(**lookup).first()
        if account is None:  # the sync grants only the current tier's entitlements: nothing to draw on
            raise RuleViolation(f"No {benefit.code} quota for {bounds.key}.", code="not_entitled")
        return account
    # per event, or no period: opened here, granted once under the row lock
    BenefitAccount.objects.bulk_create(
        [
            BenefitAccount(
                **lookup,
                period_start=bounds.start,
                period_end=bounds.end,
                unlimited=entitlement.unlimited,
                updated_at=at,
            )
        ],
        ignore_conflicts=True,
    )
    if benefit.period == rules.NONE:
        engine.sync(
            scope=engine.Scope(customer_ids=(customer.pk,), benefit_ids=(benefit.pk,)),
            on=on,
            create=False,
            expire_past=False,
        )
        return BenefitAccount.objects.get(**lookup)
    account = BenefitAccount.objects.select_for_update().get(**lookup)
    target = rules.quota(
        unit=benefit.unit,
        quantity=entitlement.quantity,
        money_cap=entitlement.money_cap,
        per_month_limit=entitlement.per_month_limit,
        unlimited=entitlement.unlimited,
    )
    if account.granted == 0 and account.used == 0 and target > 0:
        BenefitAccount.objects.filter(pk=account.pk).update(granted=target, updated_at=at)
        BenefitEntry.objects.create(
            account=account,
            customer=customer,
            benefit=benefit,
            kind=EntryKind.GRANT,
            granted_delta=target,
            remaining_after=target,
            tier_id=tier_id,
            occurred_on=on,
            actor="system",
            reference=f"event {reference}"[:100],
        )
        account.granted = target
    return account


def _replay(entry: BenefitEntry, *, customer: Customer, benefit: Benefit) -> Redemption:
    if entry.kind != EntryKind.REDEEM or entry.customer_id != customer.pk or entry.benefit_id != benefit.pk:
        raise RuleViolation(
            "This idempotency key was already used for another redemption.", code="idempotency_key_reused"
        )
    return Redemption(
        entry=entry, benefit=benefit, account=entry.account, remaining=entry.remaining_after, replayed=True
    )


@transaction.atomic
def benefit_redeem(
    *,
    customer: Customer,
    benefit: Benefit,
    reference: str,
    quantity: int = 1,
    amount: Decimal | None = None,
    at: dt.datetime,
    on: dt.date | None = None,
    idempotency_key: str | None = None,
    credit_reactivation_hours: int = 0,
    actor=None,
) -> Redemption:
    """Redeem `quantity` uses (or `amount` yuan) of a benefit for a customer on `on` (default: the day of `at`, the
    moment the redemption is recorded, which the entry point reads from the clock).

    400 bad quantity/amount; 409 `frozen` (suspended, pending closure, closed — the message says which),
    `not_entitled` (the tier has no such benefit, not a member, or old arrears for emergency reactivation),
    `over_cap` (an amount over the cap or over what is left), `quota_exhausted` (nothing, or too little, left).
    `credit_reactivation_applies`: an hours benefit (emergency reactivation) when the customer's credit
    reactivation by credit stars (`credit_reactivation_hours`, read by the caller from points) is longer.
    The same idempotency key again returns the first redemption and writes nothing."""
    if idempotency_key:
        existing = BenefitEntry.objects.select_related("account").filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, customer=customer, benefit=benefit)
    on = on or timezone.localdate(at)
    reference = (reference or "").strip()
    if not reference:
        raise InvalidInput("A reference is required.", fields={"reference": ["required"]})
    units = _units_requested(benefit, quantity, amount)

    tier_id, tier_source, entitlement = _current_entitlement(customer, benefit)
    quota_units = (
        rules.quota(
            unit=benefit.unit,
            quantity=entitlement.quantity,
            money_cap=entitlement.money_cap,
            per_month_limit=entitlement.per_month_limit,
            unlimited=entitlement.unlimited,
        )
        if entitlement
        else 0
    )
    unpaid = (
        MonthlyBill.objects.filter(customer=customer, paid=False, month__lt=on).values_list("month", flat=True)
        if benefit.refuse_old_arrears
        else ()
    )
    refusal = rules.redemption_problem(
        status=customer.status,
        suspension_kind=customer.suspension_kind,
        benefit_code=benefit.code,
        benefit_name=benefit.name_en,
        benefit_active=benefit.active,
        unit=benefit.unit,
        period=benefit.period,
        redeemable_while_suspended=benefit.redeemable_while_suspended,
        member=tier_id is not None,
        entitled_=entitlement is not None
        and rules.entitled(unit=benefit.unit, quota_units=quota_units, unlimited=entitlement.unlimited),
        quota_units=quota_units,
        units=units,
        refuse_old_arrears=benefit.refuse_old_arrears,
        unpaid_months=unpaid,
        on=on,
        tier_source=tier_source,
        for_key_person_floor=benefit.for_key_person_floor,
        hours=entitlement.hours if entitlement else None,
        credit_reactivation_hours=credit_reactivation_hours,
    )
    if refusal:
        raise RuleViolation(refusal.message, code=refusal.code, fields=refusal.fields)

    account = _account_for(
        customer=customer,
        benefit=benefit,
        entitlement=entitlement,
        quota_units=quota_units,
        tier_id=tier_id,
        on=on,
        at=at,
        reference=reference,
    )
    # The quota check and the use in one statement: zero rows means too little left (no lock needed).
    updated = (
        BenefitAccount.objects.filter(pk=account.pk)
        .filter(Q(unlimited=True) | Q(used__lte=F("granted") - units))
        .update(used=F("used") + units, updated_at=at)
    )
    granted, used, unlimited = (
        BenefitAccount.objects.filter(pk=account.pk).values_list("granted", "used", "unlimited").get()
    )
    if not updated:
        remaining = granted - used
        code = rules.refusal_code(unit=benefit.unit, remaining=remaining)
        left = rules.to_display(benefit.unit, remaining)
        what = f"{left} yuan" if benefit.unit == rules.MONEY else f"{left} of {rules.to_display(benefit.unit, granted)}"
        raise RuleViolation(
            f"Not enough {benefit.code} left for {account.period_key or 'the customer'}: {what} left.",
            code=code,
            fields={"remaining": [str(left)]},
        )
    remaining = None if unlimited else granted - used
    entry = BenefitEntry.objects.create(
        account=account,
        customer=customer,
        benefit=benefit,
        kind=EntryKind.REDEEM,
        used_delta=units,
        remaining_after=remaining,
        tier_id=tier_id,
        hours=entitlement.hours if benefit.unit == rules.HOURS else None,
        valid_until=rules.valid_until(on, benefit.validity_days),
        occurred_on=on,
        actor=actor_label(actor),
        reference=reference[:100],
        idempotency_key=idempotency_key or None,
    )
    account.granted, account.used, account.unlimited = granted, used, unlimited
    return Redemption(entry=entry, benefit=benefit, account=account, remaining=remaining)


@dataclass(frozen=True)
class Reversal:
    entry: BenefitEntry
    benefit: Benefit
    remaining: int | None

    def as_dict(self) -> dict:
        return {
            "id": self.entry.pk,
            "reverses": self.entry.reversal_of_id,
            "remaining": rules.to_display(self.benefit.unit, self.remaining),
            "benefit": self.benefit.code,
            "unit": self.benefit.unit,
        }


@transaction.atomic
def benefit_redemption_reverse(
    *, redemption_id: int, at: dt.datetime, reason: str = "", on: dt.date | None = None, actor=None
) -> Reversal:
    """Give a redemption back (once) at `at`: a reverse entry on `on` (default: the day of `at`) and `used`
    decreased by what it used."""
    redemption = BenefitEntry.objects.select_related("benefit").filter(pk=redemption_id, kind=EntryKind.REDEEM).first()
    if redemption is None:
        raise NotFoundError(f"No benefit redemption {redemption_id}.", code="unknown_redemption")
    # The one-to-one `reversal_of` makes a second reversal impossible, also when two race.
    locked = BenefitAccount.objects.select_for_update().get(pk=redemption.account_id)
    if BenefitEntry.objects.filter(reversal_of=redemption).exists():
        raise RuleViolation(f"Redemption {redemption_id} has already been reversed.", code="already_reversed")
    units = redemption.used_delta
    BenefitAccount.objects.filter(pk=locked.pk).update(used=F("used") - units, updated_at=at)
    granted, used, unlimited = (
        BenefitAccount.objects.filter(pk=locked.pk).values_list("granted", "used", "unlimited").get()
    )
    remaining = None if unlimited else granted - used
    entry = BenefitEntry.objects.create(
        account_id=locked.pk,
        customer_id=redemption.customer_id,
        benefit=redemption.benefit,
        kind=EntryKind.REVERSE,
        used_delta=-units,
        remaining_after=remaining,
        tier_id=redemption.tier_id,
        occurred_on=on or timezone.localdate(at),
        actor=actor_label(actor),
        reference=(reason or f"reverses #{redemption.pk}")[:100],
        reversal_of=redemption,
    )
    return Reversal(entry=entry, benefit=redemption.benefit, remaining=remaining)


# --------------------------------------------------------------------------------------------------
# Compensation (DOMAIN §9 服务差错主动补偿: a benefit use granted for a complaint)


@dataclass(frozen=True)
class Compensation:
    entry: BenefitEntry
    account: BenefitAccount
    units: int
    replayed: bool = False


COMPENSABLE_UNITS = (rules.COUNT, rules.HOURS)


@transaction.atomic
def benefit_compensate(
    *,
    customer: Customer,
    benefit: Benefit,
    quantity: int,
    reference: str,
    idempotency_key: str,
    at: dt.datetime,
    on: dt.date | None = None,
    actor=None,
) -> Compensation:
    """Grant `quantity` extra uses of a periodic benefit the customer's tier gives (the current period's account of
    `on`) as compensation: an `adjust` entry with the reference (the complaint) and the idempotency key (the same key
    again returns the first answer), and the account's `extra`, which the grant sync keeps. 400 for a benefit that is
    not counted in uses per year or month, or a bad quantity; 409 `not_entitled` when her tier has no quota of it."""
    existing = BenefitEntry.objects.select_related("account").filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.kind != EntryKind.ADJUST or existing.customer_id != customer.pk:
            raise RuleViolation("This idempotency key was already used.", code="idempotency_key_reused")
        return Compensation(entry=existing, account=existing.account, units=existing.granted_delta, replayed=True)
    on = on or timezone.localdate(at)
    if benefit.unit not in COMPENSABLE_UNITS or benefit.period not in rules.PERIODIC or not benefit.active:
        raise InvalidInput(
            f"{benefit.code} cannot be given as compensation: only uses of a yearly or monthly benefit can.",
            fields={"benefit": ["a benefit counted in uses per year or month (e.g. airport lounge visits)"]},
        )
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 100:
        raise InvalidInput("The quantity must be 1 to 100 uses.", fields={"quantity": ["a whole number from 1 to 100"]})
    tier_id, _source, entitlement = _current_entitlement(customer, benefit)
    if entitlement is None or entitlement.unlimited:
        raise RuleViolation(
            f"{benefit.code} is not a counted benefit of the customer's tier: it cannot be given as compensation.",
            code="not_entitled",
            fields={"benefit": ["not a counted benefit of her tier"]},
        )
    bounds = rules.period_bounds(benefit.period, on)
    lookup = {"customer": customer, "benefit": benefit, "period_key": bounds.key}
    if not BenefitAccount.objects.filter(**lookup).exists():  # the period's account and its grant first
        engine.sync(
            scope=engine.Scope(customer_ids=(customer.pk,), benefit_ids=(benefit.pk,)),
            on=on,
            expire_past=False,
            actor="system",
        )
    account = BenefitAccount.objects.select_for_update().filter(**lookup).first()
    if account is None:
        raise RuleViolation(f"No {benefit.code} quota for {bounds.key}.", code="not_entitled")
    BenefitAccount.objects.filter(pk=account.pk).update(
        granted=F("granted") + quantity, extra=F("extra") + quantity, updated_at=at
    )
    account.refresh_from_db()
    entry = BenefitEntry.objects.create(
        account=account,
        customer=customer,
        benefit=benefit,
        kind=EntryKind.ADJUST,
        granted_delta=quantity,
        remaining_after=account.granted - account.used,
        tier_id=tier_id,
        occurred_on=on,
        actor=actor_label(actor),
        reference=reference[:100],
        idempotency_key=idempotency_key,
    )
    outbox.emit(
        type="benefits.granted",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=at,
        data={"period_start": str(account.period_start), "items": [{"benefit": benefit.code, "granted": quantity}]},
    )
    return Compensation(entry=entry, account=account, units=quantity)


@transaction.atomic
def benefit_compensation_reverse(
    *, compensation_key: str, reference: str, at: dt.datetime, on: dt.date | None = None, actor=None
) -> Compensation | None:
    """Take a compensation back (its complaint was reopened): what is left of it (the uses already used stay used,
    an ended period's rest has expired), an `adjust` entry with the reference, the account's `extra` down by the
    whole compensation. None when there is no such compensation; once only (the reversal's key)."""
    granted = BenefitEntry.objects.filter(idempotency_key=compensation_key, kind=EntryKind.ADJUST).first()
    if granted is None:
        return None
    reverse_key = f"{compensation_key}:reversed"[:255]
    done = BenefitEntry.objects.select_related("account").filter(idempotency_key=reverse_key).first()
    if done is not None:
        return Compensation(entry=done, account=done.account, units=-done.granted_delta, replayed=True)
    account = BenefitAccount.objects.select_for_update().get(pk=granted.account_id)
    take = max(0, min(granted.granted_delta, account.granted - account.used))
    current = account.period_end is None or account.period_end >= (on or timezone.localdate(at))
    if not current:
        take = 0
    BenefitAccount.objects.filter(pk=account.pk).update(
        granted=F("granted") - take,
        extra=Greatest(F("extra") - granted.granted_delta, Value(0)),
        updated_at=at,
    )
    account.refresh_from_db()
    entry = BenefitEntry.objects.create(
        account=account,
        customer_id=granted.customer_id,
        benefit_id=granted.benefit_id,
        kind=EntryKind.ADJUST,
        granted_delta=-take,
        remaining_after=account.granted - account.used,
        tier_id=granted.tier_id,
        occurred_on=on or timezone.localdate(at),
        actor=actor_label(actor),
        reference=reference[:100],
        idempotency_key=reverse_key,
    )
    return Compensation(entry=entry, account=account, units=take)
