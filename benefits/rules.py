"""Pure rules of the benefits domain (DOMAIN §5): periods, quotas in whole units, who may redeem. No ORM."""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core import dates

COUNT, MONEY, HOURS, FLAG = "count", "money", "hours", "flag"
YEAR, MONTH, EVENT, NONE = "year", "month", "event", "none"
PERIODIC = (YEAR, MONTH)

# Suspensions for unpaid bills: a benefit marked "redeemable while suspended" (emergency reactivation) is
# meant for exactly these; a suspension the customer asked for, or a forced one, freezes everything.
CREDIT_SUSPENSIONS = {"arrears", "high_amount", "half"}

FEN = Decimal("0.01")


@dataclass(frozen=True)
class PeriodBounds:
    key: str
    start: dt.date | None
    end: dt.date | None


def period_bounds(period: str, on: dt.date, reference: str = "") -> PeriodBounds:
    """The account period a redemption on `on` belongs to."""
    if period == YEAR:
        return PeriodBounds(f"{on.year}", dt.date(on.year, 1, 1), dt.date(on.year, 12, 31))
    if period == MONTH:
        return PeriodBounds(f"{on:%Y-%m}", dates.month_start(on), dates.month_end(on))
    if period == EVENT:
        return PeriodBounds(f"event:{reference}", on, None)
    return PeriodBounds("", None, None)


def yuan_to_fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def to_display(unit: str, value: int | None):
    """A stored quantity as the API shows it: yuan as a decimal string for money, else an integer."""
    if value is None:
        return None
    return f"{fen_to_yuan(value)}" if unit == MONEY else int(value)


def quota(
    *, unit: str, quantity: int | None, money_cap: Decimal | None, per_month_limit: int | None, unlimited: bool
) -> int:
    """What an entitlement grants per period, in whole units (0 for flags and unlimited benefits)."""
    if unlimited or unit == FLAG:
        return 0
    if unit == MONEY:
        return yuan_to_fen(money_cap) if money_cap else 0
    if unit == HOURS:
        return per_month_limit or 0
    return quantity or 0


def entitled(*, unit: str, quota_units: int, unlimited: bool) -> bool:
    return unit == FLAG or unlimited or quota_units > 0


KEY_PERSON = "key_person"  # the tier source of a key-person floor (tiers.models.Source)


def gives(*, tier_source: str, for_key_person_floor: bool) -> bool:
    """Whether a tier entitlement applies: a tier held only by a key-person floor gives only the benefits marked for
    it (the airport lounge and the priority, green-channel benefits: DOMAIN §5)."""
    return tier_source != KEY_PERSON or for_key_person_floor


def frozen_reason(*, status: str, suspension_kind: str, redeemable_while_suspended: bool) -> str | None:
    """Why a customer cannot redeem now, or None. Suspended, pending-closure and closed customers are frozen;
    a benefit redeemable while suspended (emergency reactivation) stays open to credit suspensions."""
    if status == "active":
        return None
    if status == "suspended":
        if redeemable_while_suspended and suspension_kind in CREDIT_SUSPENSIONS:
            return None
        kind = f" ({suspension_kind})" if suspension_kind else ""
        return f"The customer is suspended{kind}: benefits cannot be redeemed until the number is reactivated."
    if status == "pending_closure":
        return "The customer has asked to close the number (pending closure): benefits are frozen."
    if status == "closed":
        return "The number is closed: it has no benefits any more."
    return f"The customer's status {status!r} does not allow redemptions."


def reactivation_applied(*, emergency_hours: int, credit_hours: int) -> str:
    """Emergency reactivation and credit reactivation by credit stars do not stack: one per occasion, the longer
    applies (DOMAIN §5) — "credit" when it is longer, else "emergency" (on a tie, the one asked for)."""
    return "credit" if credit_hours > emergency_hours else "emergency"


def old_arrears(unpaid_months, on: dt.date) -> list[dt.date]:
    """Unpaid bills older than the month before `on`: these refuse an emergency reactivation.
    (On 2026-10-15 an unpaid 2026-09 bill is the normal case; an unpaid 2026-08 bill refuses.)"""
    limit = dates.add_months(on, -1)
    return sorted(m for m in unpaid_months if m < limit)


def refusal_code(*, unit: str, remaining: int) -> str:
    """Why a conditional UPDATE found too little left: nothing left, or an amount over what is left."""
    if remaining <= 0:
        return "quota_exhausted"
    return "over_cap" if unit == MONEY else "quota_exhausted"


def valid_until(on: dt.date, validity_days: int | None) -> dt.date | None:
    """The last day of a claim valid `validity_days` days counting the claim day (90 days: claim + 89)."""
    return on + dt.timedelta(days=validity_days - 1) if validity_days else None


def entitlement_problems(
    *,
    unit: str,
    period: str,
    quantity: int | None,
    money_cap: Decimal | None,
    hours: int | None,
    per_month_limit: int | None,
    unlimited: bool,
) -> dict[str, list[str]]:
    """What is missing or contradictory in an entitlement for a benefit of this unit and period."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if unit == COUNT and not unlimited and not quantity:
        add("quantity", "A count benefit needs a quantity per period, or “unlimited”.")
    if unit == COUNT and unlimited and quantity:
        add("quantity", "An unlimited entitlement has no quantity.")
    if unit == MONEY and not money_cap:
        add("money_cap", "A money benefit needs a money cap.")
    if unit == HOURS:
        if not hours:
            add("hours", "An hours benefit needs the hours per use.")
        if not per_month_limit:
            add("per_month_limit", "An hours benefit needs the uses per month.")
        if period != MONTH:
            add("per_month_limit", "Uses per month need a benefit with a monthly period.")
    if unit != HOURS and per_month_limit:
        add("per_month_limit", "Only hours benefits (emergency reactivation) have uses per month.")
    if unit != COUNT and unlimited:
        add("unlimited", "Only count benefits can be unlimited.")
    if unit in (COUNT, MONEY, HOURS) and period == EVENT and unit != MONEY:
        add("quantity", "Per-event benefits are money benefits with a cap per event.")
    return problems


@dataclass(frozen=True)
class Refusal:
    """Why a redemption is refused (409): the error code, the message, and the fields it names."""

    code: str
    message: str
    fields: dict | None = None


def redemption_problem(
    *,
    status: str,
    suspension_kind: str,
    benefit_code: str,
    benefit_name: str,
    benefit_active: bool,
    unit: str,
    period: str,
    redeemable_while_suspended: bool,
    member: bool,
    entitled_: bool,
    quota_units: int,
    units: int,
    refuse_old_arrears: bool,
    unpaid_months,
    on: dt.date,
    tier_source: str = "",
    for_key_person_floor: bool = False,
    hours: int | None = None,
    credit_reactivation_hours: int = 0,
) -> Refusal | None:
    """The first reason, in this order, to refuse redeeming `units` of a benefit on `on`, or None: the customer's
    status freezes benefits; the benefit is no longer offered; the customer is not a member (`member`: has a
    tier); a tier held only by a key-person floor does not give it (`tier_source`, `for_key_person_floor`); the tier
    has no such benefit (`entitled_`: an entitlement with a quota); a money amount over the cap
    (`quota_units`); arrears older than the previous month (`unpaid_months`) where the benefit refuses them; a
    credit reactivation by credit stars longer than this reactivation's `hours` (they do not stack)."""
    frozen = frozen_reason(
        status=status, suspension_kind=suspension_kind, redeemable_while_suspended=redeemable_while_suspended
    )
    if frozen:
        return Refusal("frozen", frozen, {"status": [status]})
    if not benefit_active:
        return Refusal("not_entitled", f"{benefit_code} is not offered any more.")
    if not member:
        return Refusal("not_entitled", "The customer is not a member of the club: no benefits.")
    if not gives(tier_source=tier_source, for_key_person_floor=for_key_person_floor):
        return Refusal(
            "not_entitled",
            f"The customer's tier comes only from her group key person's floor: it gives the airport lounge and the "
            f"priority benefits only, no {benefit_name.lower()} ({benefit_code}).",
        )
    if not entitled_:
        return Refusal("not_entitled", f"The customer's tier has no {benefit_name.lower()} ({benefit_code}).")
    if unit == MONEY and units > quota_units:
        cap = fen_to_yuan(quota_units)
        per = "per event" if period == EVENT else f"per {period}"
        return Refusal(
            "over_cap",
            f"{fen_to_yuan(units)} yuan is over the cap of {cap} yuan {per} for {benefit_code}.",
            {"amount": [f"at most {cap}"]},
        )
    if refuse_old_arrears:
        old = old_arrears(unpaid_months, on)
        if old:
            months = [f"{m:%Y-%m}" for m in old]
            return Refusal(
                "not_entitled",
                f"{benefit_name} is refused: arrears older than the previous month ({', '.join(months)}).",
                {"arrears": months},
            )
    applied = reactivation_applied(emergency_hours=hours or 0, credit_hours=credit_reactivation_hours)
    if unit == HOURS and applied == "credit":
        return Refusal(
            "credit_reactivation_applies",
            f"The credit reactivation of her credit stars ({credit_reactivation_hours} h) applies: it is longer than "
            f"the {benefit_name.lower()} ({hours or 0} h), and they do not stack (one per occasion). No "
            f"{benefit_code} is used.",
            {"credit_hours": [str(credit_reactivation_hours)]},
        )
    return None
