"""Pure rules of DOMAIN.md §8: the retention case's state machine, the churn KPIs and the risk reasons. No ORM.

KPIs (per month, tier and branch; Decimal, rounded half up to 2 places; None where a divisor is zero or missing):
- churned(m) = voluntary + arrears closures of members in month m (by their tier at closure);
- rate(m) = churned(m) / members at the end of month m-1 × 100;
- average members(m) = (members at the end of m-1 + members at the end of m) / 2;
- ytd rate(m) = Σ churned from the YTD start to m / members at the YTD base × 100, where the base is the end of the
  previous year (31 December), or — for a club whose first month end with members falls in this year — that month
  end (the churn counted starts the month after it);
- breach(m) = ytd rate(m) ≥ the yearly target (the target reads "churn below x % a year").
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

OPEN, CONTACTED, OFFER_MADE, CONSIDERING = "open", "contacted", "offer_made", "considering"
DECLINED, ESCALATED, RETAINED, CHURNED = "declined", "escalated", "retained", "churned"

# state -> the states a person may move a case to (DOMAIN §8). `considering` → `considering` is a follow-up.
# A closure (the `closed` event) ends any open case as churned, and a cancelled closure request as retained:
# those are the system's moves, not listed here.
CASE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    OPEN: (CONTACTED,),
    CONTACTED: (OFFER_MADE,),
    OFFER_MADE: (RETAINED, CONSIDERING, DECLINED),
    CONSIDERING: (CONSIDERING, OFFER_MADE, RETAINED, DECLINED),
    DECLINED: (ESCALATED,),
    ESCALATED: (RETAINED, CHURNED),
    RETAINED: (),
    CHURNED: (),
}
STATES = tuple(CASE_TRANSITIONS)
TERMINAL = frozenset(s for s, targets in CASE_TRANSITIONS.items() if not targets)


# A case is open only while what opened it lasts (DOMAIN §8): her closure request (pending closure) or her requested
# suspension (申请停机). Checked when a case opens (services.case_open) and, on PostgreSQL, by a deferred constraint
# trigger at every commit that opens a case or moves a customer (migration 0003).
def case_may_be_open(status: str, suspension_kind: str = "") -> bool:
    return status == "pending_closure" or (status == "suspended" and suspension_kind == "requested")


# The usual way from `open` to each state (no follow-ups, no second offer): the demo and the tests walk cases along it.
USUAL_PATHS: dict[str, tuple[str, ...]] = {
    OPEN: (),
    CONTACTED: (CONTACTED,),
    OFFER_MADE: (CONTACTED, OFFER_MADE),
    CONSIDERING: (CONTACTED, OFFER_MADE, CONSIDERING),
    DECLINED: (CONTACTED, OFFER_MADE, DECLINED),
    ESCALATED: (CONTACTED, OFFER_MADE, DECLINED, ESCALATED),
    RETAINED: (CONTACTED, OFFER_MADE, RETAINED),
    CHURNED: (CONTACTED, OFFER_MADE, DECLINED, ESCALATED, CHURNED),
}


def allowed_transitions(state: str) -> tuple[str, ...]:
    return CASE_TRANSITIONS.get(state, ())


def transition_problem(state: str, to: str) -> str | None:
    """Why a case in `state` cannot move to `to`, or None when it can."""
    allowed = allowed_transitions(state)
    if to in allowed:
        return None
    if not allowed:
        return f"The case is {state.replace('_', ' ')} and closed: no further step is possible."
    return (
        f"A case that is {state.replace('_', ' ')} cannot move to {to.replace('_', ' ')}; "
        f"allowed: {', '.join(allowed)}."
    )


# --- KPIs ------------------------------------------------------------------------------------------------

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def percent(part: int, whole: int | None) -> Decimal | None:
    """part / whole × 100, 2 places; None when whole is zero or unknown (no division by zero)."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


def average(previous: int | None, current: int | None) -> Decimal | None:
    if previous is None or current is None:
        return None
    return (Decimal(previous + current) / 2).quantize(TENTH, rounding=ROUND_HALF_UP)


def breach(ytd_rate: Decimal | None, target: Decimal | None) -> bool:
    """The target reads "yearly churn below target": reaching it is a breach."""
    return ytd_rate is not None and target is not None and ytd_rate >= target


def ytd_base_index(members_by_month: list[int | None]) -> int | None:
    """Which month end is the YTD base: index 0 is December of the previous year, 1..12 this year's months.
    The previous year's end when it had members; else the first month end of this year with members; else None."""
    for index, members in enumerate(members_by_month):
        if members:
            return index
    return None


@dataclass(frozen=True)
class MonthKpi:
    month: dt.date
    members: int | None  # at the end of the month (None: no snapshot)
    members_previous: int | None  # at the end of the month before
    average_members: Decimal | None
    churned: int
    voluntary: int
    arrears: int
    rate: Decimal | None
    ytd_churned: int
    ytd_rate: Decimal | None
    target: Decimal | None
    breach: bool


def year_kpis(
    *,
    year: int,
    members: list[int | None],
    voluntary: list[int],
    arrears: list[int],
    target: Decimal | None,
    base: int | None = -1,
    through: int = 12,
) -> list[MonthKpi]:
    """The 12 months of a year for one series (a tier, or all members) in one scope (all branches or one).

    `members` has 13 entries: the end of December of the previous year, then the end of each month (None where no
    snapshot was taken); `voluntary` and `arrears` have 12 (closures per month). `base` is the index of the YTD
    base in `members` (the report takes it from the all-members series, so that every tier shares one YTD window);
    by default it is chosen on this series' own members. Months after `through` (1..12; the current month) have not
    happened yet: no year-to-date rate and no breach."""
    if len(members) != 13 or len(voluntary) != 12 or len(arrears) != 12:
        raise ValueError("13 month ends and 12 months of closures are needed")
    if base == -1:
        base = ytd_base_index(members)
    result, ytd = [], 0
    for i in range(12):
        churned = voluntary[i] + arrears[i]
        month_index = i + 1  # index of this month's end in `members`
        counted = base is not None and base < month_index <= through
        ytd += churned if counted else 0
        ytd_rate = percent(ytd, members[base]) if counted else None
        result.append(
            MonthKpi(
                month=dt.date(year, i + 1, 1),
                members=members[month_index],
                members_previous=members[i],
                average_members=average(members[i], members[month_index]),
                churned=churned,
                voluntary=voluntary[i],
                arrears=arrears[i],
                rate=percent(churned, members[i]),
                ytd_churned=ytd if counted else 0,
                ytd_rate=ytd_rate,
                target=target,
                breach=breach(ytd_rate, target),
            )
        )
    return result


def target_for(tier_code: str | None, targets: dict[str | None, Decimal]) -> Decimal | None:
    """A tier's own target, else the all-members target (key None)."""
    if tier_code in targets:
        return targets[tier_code]
    return targets.get(None)


# --- the risk list ---------------------------------------------------------------------------------------


def spend_drop_percent(recent: Decimal, before: Decimal) -> Decimal | None:
    """How much the last 3 bills fell against the 3 before, in % (negative: rose); None without earlier bills."""
    if not before:
        return None
    return ((before - recent) * HUNDRED / before).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RiskFacts:
    spend_recent: Decimal
    spend_before: Decimal
    falling_spend: bool
    suspensions: int
    arrears: int
    closure_requests: int
    overdue_contacts: int


def risk_reasons(facts: RiskFacts, weights: dict[str, Decimal]) -> list[tuple[str, int | Decimal, Decimal]]:
    """(signal, count or drop %, points) for each signal that adds to the score, the heaviest first."""
    counts: list[tuple[str, int | Decimal, int]] = []
    if facts.falling_spend:
        counts.append(("falling_spend", spend_drop_percent(facts.spend_recent, facts.spend_before) or Decimal(0), 1))
    for signal, n in (
        ("suspension", facts.suspensions),
        ("arrears", facts.arrears),
        ("closure_request", facts.closure_requests),
        ("overdue_contact", facts.overdue_contacts),
    ):
        if n:
            counts.append((signal, n, n))
    reasons = [(signal, shown, weights.get(signal, Decimal(0)) * times) for signal, shown, times in counts]
    return sorted((r for r in reasons if r[2] > 0), key=lambda r: -r[2])


def risk_score(facts: RiskFacts, weights: dict[str, Decimal]) -> Decimal:
    """The reference score (the SQL of the refresh computes the same): Σ weight × count."""
    return sum((points for _s, _n, points in risk_reasons(facts, weights)), Decimal(0))
