"""The rating rules of DOMAIN.md §3 as pure functions (no ORM).

The set-based engine (`tiers/engine.py`) implements the same rules in SQL for a million customers;
`evaluate()` here is the reference, used to explain a customer's tier, and tests assert both agree.
"""

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.utils.translation import gettext as _

from core import bounds
from core.dates import add_months, full_months, full_years
from customers.models import GroupClass, KeyPersonRole

ANNUAL = "annual_composite"
AVERAGE = "average_spend"

SCORE, PLAN, KEY_PERSON, TRANSFER, OVERRIDE, CLOSURE = "score", "plan", "key_person", "transfer", "override", "closure"
# On equal rank the score is the source, then plan, then key person (then a move-in).
SOURCE_PRIORITY = (SCORE, PLAN, KEY_PERSON, TRANSFER)
CHANGING = ("joined", "upgraded", "renewed", "downgraded", "left")


@dataclass(frozen=True)
class Policy:
    """A rating policy as one run uses it (the run stores this snapshot)."""

    kind: str
    window_months: int
    thresholds: dict[str, Decimal]  # active tier code -> threshold (points, or yuan a month)
    ranks: dict[str, int]  # active tier code -> rank
    tenure_bonus: tuple[tuple[int, int], ...] = ()  # (years, bonus), highest years first
    min_tenure_months: int = 12
    validity_months: int = 12
    expiry_day: int | None = None
    plan_tiers: dict[str, str] = field(default_factory=dict)
    key_person_tiers: tuple[tuple[str, str | None, str], ...] = ()  # (role, group class or None = any, tier)
    run_day: int = 1

    def to_json(self) -> dict:
        data = asdict(self)
        data["thresholds"] = {k: str(v) for k, v in self.thresholds.items()}
        data["tenure_bonus"] = [list(x) for x in self.tenure_bonus]
        data["key_person_tiers"] = [{"role": r, "group_class": c, "tier": t} for r, c, t in self.key_person_tiers]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Policy":
        return cls(
            kind=data["kind"],
            window_months=int(data["window_months"]),
            thresholds={k: Decimal(str(v)) for k, v in data["thresholds"].items()},
            ranks={k: int(v) for k, v in data["ranks"].items()},
            tenure_bonus=tuple(sorted(((int(y), int(b)) for y, b in data.get("tenure_bonus", [])), reverse=True)),
            min_tenure_months=int(data.get("min_tenure_months", 12)),
            validity_months=int(data.get("validity_months", 12)),
            expiry_day=data.get("expiry_day"),
            plan_tiers=dict(data.get("plan_tiers", {})),
            key_person_tiers=tuple(
                (k["role"], k.get("group_class") or None, k["tier"]) for k in data.get("key_person_tiers", [])
            ),
            run_day=int(data.get("run_day", 1)),
        )

    def rank(self, tier: str | None) -> int:
        return self.ranks.get(tier, 0) if tier else 0

    def tier_of_rank(self, rank: int) -> str | None:
        return next((code for code, r in self.ranks.items() if r == rank), None) if rank else None


# The bounds of a policy's rating fields: the admin's policy form and a dry run's draft check them alike
# (`policy_problems`); the model's check constraints hold the same ranges for run_day, expiry_day and window.
POLICY_INTEGERS = {
    "window_months": (1, 36),
    "min_tenure_months": (0, 120),
    "validity_months": (1, 60),
    "expiry_day": (1, 28),
    "run_day": (1, 28),
}
POLICY_JSON_SHAPES = {"thresholds": dict, "tenure_bonus": list, "plan_tiers": dict, "key_person_tiers": list}
THRESHOLD_DIGITS, THRESHOLD_PLACES = 12, 2
TENURE_YEARS_MAX, TENURE_BONUS_MAX = 100, 1_000_000


def policy_problems(values: dict, *, tier_codes) -> dict[str, list[str]]:
    """Every problem of the rating fields in `values` (a policy's, or a policy with a draft applied), by field:
    integers within POLICY_INTEGERS (expiry_day may be empty), thresholds of known tiers as decimal strings,
    tenure bonus [[years, bonus], ...], plan floors {plan: tier}, key-person floors [{role, group_class, tier}].
    Empty when a run can use them."""
    tier_codes = set(tier_codes)
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    for name, (low, high) in POLICY_INTEGERS.items():
        if name not in values or (name == "expiry_day" and values[name] is None):
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            add(name, _("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high})
    for name, shape in POLICY_JSON_SHAPES.items():
        if name in values and not isinstance(values[name], shape):
            add(name, _("Expected a JSON object {…}.") if shape is dict else _("Expected a JSON list […]."))
    thresholds = values.get("thresholds")
    if isinstance(thresholds, dict):
        for code, value in thresholds.items():
            if code not in tier_codes:
                add("thresholds", _("Unknown or inactive tier %(code)s.") % {"code": _shown(code)})
                continue
            try:
                bounds.parse_decimal(
                    value, max_digits=THRESHOLD_DIGITS, decimal_places=THRESHOLD_PLACES, min_value=Decimal(0)
                )
            except bounds.BoundsError as exc:
                add("thresholds", f"{code}: {exc}")
    bonus = values.get("tenure_bonus")
    if isinstance(bonus, list):
        for item in bonus:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
                and 0 <= item[0] <= TENURE_YEARS_MAX
                and 0 <= item[1] <= TENURE_BONUS_MAX
            ):
                add(
                    "tenure_bonus",
                    _("Each item is [years, bonus]: whole numbers, years 0–%(years)d, bonus 0–%(bonus)d (%(item)s).")
                    % {"years": TENURE_YEARS_MAX, "bonus": TENURE_BONUS_MAX, "item": _shown(item)},
                )
    plans = values.get("plan_tiers")
    if isinstance(plans, dict):
        for plan, tier in plans.items():
            if not 1 <= len(plan) <= 20 or not (isinstance(tier, str) and tier in tier_codes):
                add(
                    "plan_tiers",
                    _("%(plan)s: a plan code of at most 20 characters and a known tier.") % {"plan": _shown(plan)},
                )
    key_persons = values.get("key_person_tiers")
    if isinstance(key_persons, list):
        for item in key_persons:
            if not (
                isinstance(item, dict)
                and set(item) <= {"role", "group_class", "tier"}
                and item.get("role") in KeyPersonRole.values
                and item.get("group_class") in (None, "", *GroupClass.values)
                and isinstance(item.get("tier"), str)
                and item["tier"] in tier_codes
            ):
                add(
                    "key_person_tiers",
                    _('Each item is {"role", "group_class", "tier"} with a known role, class and tier (%(item)s).')
                    % {"item": _shown(item)},
                )
    return problems


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def evaluation_date(month: dt.date, run_day: int) -> dt.date:
    return month.replace(day=run_day)


def window_months(month: dt.date, n: int) -> list[dt.date]:
    """The n months before `month`: M-n … M-1."""
    return [add_months(month, -i) for i in range(n, 0, -1)]


def score_valid_until(month: dt.date, validity_months: int, expiry_day: int | None) -> dt.date:
    """Last day of month M+validity-1, or day D of month M+validity when the policy sets an expiry day."""
    if expiry_day:
        return add_months(month, validity_months).replace(day=expiry_day)
    return add_months(month, validity_months) - dt.timedelta(days=1)


def tenure_bonus(years: int, table) -> int:
    return next((bonus for min_years, bonus in sorted(table, reverse=True) if years >= min_years), 0)


def floor_yuan(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def score_units(policy: Policy, bills: dict[dt.date, Decimal], years: int) -> int:
    """The score in the policy's integer unit: points (annual composite) or fen a month (average spend).

    `bills` holds the window's closed months only. Average spend = exact sum / N, floored to the fen,
    which compares to a threshold exactly as the unrounded average does."""
    if policy.kind == ANNUAL:
        return sum(floor_yuan(a) for a in bills.values()) + tenure_bonus(years, policy.tenure_bonus)
    return sum(to_fen(a) for a in bills.values()) // policy.window_months


def threshold_units(policy: Policy, threshold: Decimal) -> int:
    return int(threshold) if policy.kind == ANNUAL else to_fen(threshold)


def units_to_score(policy: Policy, units: int) -> Decimal:
    return Decimal(units) if policy.kind == ANNUAL else (Decimal(units) / 100).quantize(Decimal("0.01"))


def tier_for_score(policy: Policy, units: int) -> str | None:
    best = None
    for code, threshold in policy.thresholds.items():
        if units >= threshold_units(policy, threshold) and (best is None or policy.rank(code) > policy.rank(best)):
            best = code
    return best


def key_person_tier(policy: Policy, roles) -> str | None:
    """The highest tier that any of the (role, group class) pairs gives."""
    best = None
    for role, group_class in roles:
        for rule_role, rule_class, tier in policy.key_person_tiers:
            if role == rule_role and (rule_class is None or rule_class == group_class):
                if policy.rank(tier) > policy.rank(best):
                    best = tier
    return best


@dataclass(frozen=True)
class TierState:
    """A customer's tier, its source and validity; beside a floor (any source but score), the score-won tier and
    its validity that the floor lifted her above (kept for when the floor lapses: 只升不降 across floors)."""

    tier: str | None = None
    source: str = ""
    valid_until: dt.date | None = None
    score_tier: str | None = None
    score_valid_until: dt.date | None = None

    @property
    def effective(self) -> tuple:
        return (self.tier, self.source, self.valid_until)


NONE = TierState()


@dataclass
class CustomerFacts:
    """Everything the rules look at for one customer and run."""

    join_date: dt.date
    product_type: str = "primary"
    status: str = "active"
    bills: dict[dt.date, Decimal] = field(default_factory=dict)  # closed window months only
    plan_code: str | None = None  # plan in force on the evaluation date (it counts from its effective date)
    plan_started_on: dt.date | None = None
    key_person_roles: list[tuple[str, str]] = field(default_factory=list)  # set before the evaluation date
    transfer: tuple[str, dt.date] | None = None  # (tier, kept until) of an active move-in
    override: tuple[str, dt.date] | None = None  # (tier, ends on) of an active approved override
    current: TierState = NONE


@dataclass
class Evaluation:
    """A decision with its reasons: what `explain` shows."""

    evaluation_date: dt.date
    can_hold: bool
    can_win_by_score: bool
    tenure_years: int
    bill_points: int
    tenure_bonus: int
    score: Decimal
    score_tier: str | None
    plan_tier: str | None
    key_person_tier: str | None
    transfer_tier: str | None
    override_tier: str | None
    candidate: TierState
    current: TierState
    transition: str
    new_state: TierState
    reason: str
    held_by_validity: bool

    @property
    def changed(self) -> bool:
        return self.transition in CHANGING


def kept_score(policy: Policy, current: TierState, on: dt.date) -> TierState | None:
    """The score-won tier still valid on `on`: the current tier if won by score, else the one kept beside a floor."""
    if current.source == SCORE:
        tier, until = current.tier, current.valid_until
    else:
        tier, until = current.score_tier, current.score_valid_until
    if policy.rank(tier) and until is not None and until >= on:
        return TierState(tier, SCORE, until)
    return None


def choose(
    policy: Policy,
    *,
    can_hold: bool,
    score: TierState | None,
    plan: str | None = None,
    key_person: str | None = None,
    transfer: tuple[str, dt.date] | None = None,
    override: tuple[str, dt.date] | None = None,
) -> TierState:
    """The candidate: an override, else the highest of the score tier and the floors (on equal rank score, plan, key
    person, move-in); the score tier it lifts her above is kept beside a floor."""
    if not can_hold:
        return NONE
    beside = {"score_tier": score.tier, "score_valid_until": score.valid_until} if score else {}
    if override:
        return TierState(override[0], OVERRIDE, override[1], **beside)
    transfer_tier = transfer[0] if transfer and transfer[0] in policy.ranks else None
    by_source = {SCORE: score.tier if score else None, PLAN: plan, KEY_PERSON: key_person, TRANSFER: transfer_tier}
    best = max(policy.rank(t) for t in by_source.values())
    if best == 0:
        return NONE
    source = next(s for s in SOURCE_PRIORITY if policy.rank(by_source[s]) == best)
    if source == SCORE:
        return score
    return TierState(by_source[source], source, transfer[1] if source == TRANSFER else None, **beside)


def evaluate(policy: Policy, month: dt.date, facts: CustomerFacts) -> Evaluation:
    E = evaluation_date(month, policy.run_day)
    years = full_years(facts.join_date, E)
    can_hold = facts.product_type == "primary" and facts.status != "closed"
    can_win = can_hold and full_months(facts.join_date, E) >= policy.min_tenure_months
    units = score_units(policy, facts.bills, years)
    score_tier = tier_for_score(policy, units) if can_win else None
    plan_tier = plan_floor(policy, facts)
    kp_tier = key_person_tier(policy, facts.key_person_roles)
    transfer_tier = facts.transfer[0] if facts.transfer and facts.transfer[0] in policy.ranks else None
    override_tier = facts.override[0] if facts.override else None

    # within its validity the score-won tier (also one kept beside a floor) only goes up
    fresh = TierState(score_tier, SCORE, score_valid_until(month, policy.validity_months, policy.expiry_day))
    fresh = fresh if policy.rank(score_tier) else None
    kept = kept_score(policy, facts.current, E) if can_hold else None
    score = kept if kept and policy.rank(kept.tier) >= policy.rank(score_tier) else fresh
    floors = {"plan": plan_tier, "key_person": kp_tier, "transfer": facts.transfer, "override": facts.override}
    candidate = choose(policy, can_hold=can_hold, score=score, **floors)
    forced = not can_hold or bool(facts.override)
    fresh_rank = policy.rank(choose(policy, can_hold=can_hold, score=fresh, **floors).tier)
    held = not forced and facts.current.source == SCORE and kept is not None and fresh_rank < policy.rank(kept.tier)

    current = facts.current
    transition, new_state = decide(policy, current, candidate, forced=forced, held=held)
    if new_state.tier is None:
        reason = CLOSURE if facts.status == "closed" else SCORE
    else:
        reason = new_state.source
    return Evaluation(
        evaluation_date=E,
        can_hold=can_hold,
        can_win_by_score=can_win,
        tenure_years=years,
        bill_points=sum(floor_yuan(a) for a in facts.bills.values()),
        tenure_bonus=tenure_bonus(years, policy.tenure_bonus) if policy.kind == ANNUAL else 0,
        score=units_to_score(policy, units),
        score_tier=score_tier,
        plan_tier=plan_tier,
        key_person_tier=kp_tier,
        transfer_tier=transfer_tier,
        override_tier=override_tier,
        candidate=candidate,
        current=current,
        transition=transition,
        new_state=new_state,
        reason=reason,
        held_by_validity=held,
    )


def plan_floor(policy: Policy, facts: CustomerFacts) -> str | None:
    """The tier of the plan in force (a plan counts from its effective date, 按套餐生效日期立即生效)."""
    tier = policy.plan_tiers.get(facts.plan_code) if facts.plan_code and facts.plan_started_on else None
    return tier if tier in policy.ranks else None


@dataclass
class DayDecision:
    """What the daily floors step does for one customer on a day: the transition, the new state, the reason."""

    candidate: TierState
    transition: str
    new_state: TierState
    reason: str

    @property
    def changed(self) -> bool:
        return self.transition in CHANGING


def evaluate_day(policy: Policy, on: dt.date, facts: CustomerFacts) -> DayDecision:
    """Floors between runs (DOMAIN §3): on `on` the floors in force (`facts`, as of `on`) apply and the lapsed ones are
    lifted, down to the score-won tier while it is still valid (kept beside the floor), else the other floors or none.
    A score-won tier is left to the runs (its validity is judged at a run), and so is a customer who cannot hold a
    tier (closure removes the tier at once)."""
    current = facts.current
    can_hold = facts.product_type == "primary" and facts.status != "closed"
    if not can_hold:
        return DayDecision(NONE, "unchanged", current, "")
    candidate = choose(
        policy,
        can_hold=True,
        score=kept_score(policy, current, on),
        plan=plan_floor(policy, facts),
        key_person=key_person_tier(policy, facts.key_person_roles),
        transfer=facts.transfer,
        override=facts.override,
    )
    forced = bool(facts.override)
    if not forced and current.source == SCORE and policy.rank(candidate.tier) < policy.rank(current.tier):
        return DayDecision(candidate, "unchanged", current, "")
    transition, new_state = decide(policy, current, candidate, forced=forced)
    # the reason of a change: the current floor when it lapsed (no longer gives the current tier), else the new source
    transfer_tier = facts.transfer[0] if facts.transfer and facts.transfer[0] in policy.ranks else None
    floor_now = {OVERRIDE: None, PLAN: plan_floor(policy, facts), TRANSFER: transfer_tier}
    floor_now[KEY_PERSON] = key_person_tier(policy, facts.key_person_roles)
    lapsed = not forced and policy.rank(floor_now.get(current.source, current.tier)) != policy.rank(current.tier)
    return DayDecision(candidate, transition, new_state, current.source if lapsed else candidate.source)


def decide(policy: Policy, current: TierState, candidate: TierState, *, forced: bool = False, held: bool = False):
    """(transition, new state) per DOMAIN §3: within validity a score-won tier only goes up (`held`: the score and
    floors of the run are below a still valid score-won tier, which the candidate keeps).

    `forced`: an active override, or a customer who cannot hold a tier — the candidate applies as it is. The new state
    is the candidate (also when unchanged: the score tier kept beside a floor may change without a change row)."""
    cur, cand = policy.rank(current.tier), policy.rank(candidate.tier)
    if cand > cur:
        return ("joined" if cur == 0 else "upgraded"), candidate
    if held and not forced:
        return "held", candidate
    if cand == cur:
        return ("unchanged" if candidate.effective == current.effective else "renewed"), candidate
    return ("left" if cand == 0 else "downgraded"), candidate


# -- tier expiring (DOMAIN §11): 30 days before a score-won validity ends --------------------------------------------

EXPIRING_NOTICE_DAYS = 30


def run_month_after(policy: Policy, valid_until: dt.date) -> dt.date:
    """The month of the first run whose evaluation date is after `valid_until`: the run that re-rates the tier."""
    first = valid_until.replace(day=1)
    return first if policy.run_day > valid_until.day else add_months(first, 1)


def expiring_figures(
    policy: Policy, tier: str, *, valid_until: dt.date, join_date: dt.date, bills: dict[dt.date, Decimal]
) -> tuple[Decimal, Decimal]:
    """(score so far, spend still needed in yuan) to keep `tier` at the run after `valid_until`: the score that run
    would compute from the bills known now (`bills`: the closed months of its window), and how much more billing
    reaches the tier's threshold (never below 0). Annual composite: points (one per whole yuan of a bill) with the
    tenure bonus on that run's evaluation date; average spend: the window's average so far, yuan a month."""
    month = run_month_after(policy, valid_until)
    window = set(window_months(month, policy.window_months))
    bills = {m: a for m, a in bills.items() if m in window}
    threshold = policy.thresholds.get(tier, Decimal(0))
    if policy.kind == ANNUAL:
        years = full_years(join_date, evaluation_date(month, policy.run_day))
        units = score_units(policy, bills, years)
        return Decimal(units), max(Decimal(int(threshold) - units), Decimal(0)).quantize(Decimal("0.01"))
    total_fen = sum(to_fen(a) for a in bills.values())
    score = (Decimal(total_fen // policy.window_months) / 100).quantize(Decimal("0.01"))
    needed = max(Decimal(to_fen(threshold) * policy.window_months - total_fen), Decimal(0)) / 100
    return score, needed.quantize(Decimal("0.01"))
