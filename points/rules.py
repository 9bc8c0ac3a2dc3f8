"""The points and credit rules of DOMAIN.md §6 and §7 as pure functions (no ORM).

The set-based SQL (`points/engine.py`) implements earning, expiry and credit stars for a million customers;
the functions here are the reference: they explain one customer and tests assert both agree.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from core import dates

FROZEN_STATUSES = frozenset({"suspended", "pending_closure", "closed"})


class InsufficientPoints(Exception):
    def __init__(self, available: int, wanted: int):
        super().__init__(f"{available} points available, {wanted} wanted")
        self.available = available
        self.wanted = wanted


# -- dates ------------------------------------------------------------------------------------------------------------


def expires_on(year: int, expiry_years: int = 2) -> dt.date:
    """Points earned in year Y expire on 31 December of Y + expiry_years (DOMAIN: 2007 → 31 Dec 2009)."""
    return dt.date(year + expiry_years, 12, 31)


def first_live_year(on: dt.date, expiry_years: int = 2) -> int:
    """The oldest year whose points are still valid on `on`."""
    return on.year - expiry_years


# -- earning ----------------------------------------------------------------------------------------------------------


def bill_points(amount: Decimal) -> int:
    """A monthly bill earns one point per whole yuan: floor(amount)."""
    return int(Decimal(amount).to_integral_value(rounding=ROUND_FLOOR))


def tenure_years_for_bill(join_date: dt.date, month: dt.date) -> int:
    """Tenure that a bill's tenure reward looks at: full years at the end of the bill's month (i.e. on the
    first day of the next month: joined 2015-03-01 → 10 years for the bill of 2025-02)."""
    return dates.full_years(join_date, dates.add_months(month, 1))


@dataclass(frozen=True)
class Reward:
    kind: str  # "brand" | "tenure"
    brand: str  # "" = any brand
    min_years: int
    percent: Decimal


def reward_percent(rewards, *, brand: str, years: int) -> Decimal:
    """Σ of the matching brand rules + the matching tenure rule with the most years."""
    total = sum((r.percent for r in rewards if r.kind == "brand" and r.brand in ("", brand)), Decimal(0))
    tenure = [r for r in rewards if r.kind == "tenure" and r.brand in ("", brand) and r.min_years <= years]
    if tenure:
        total += max(tenure, key=lambda r: (r.min_years, r.percent)).percent
    return total


def reward_points(base: int, percent: Decimal) -> int:
    """floor(base × percent / 100), exact (percent has two decimals)."""
    return (base * int(Decimal(percent) * 100)) // 10000


def bill_reward(rewards, *, base: int, brand: str, join_date: dt.date, month: dt.date) -> int:
    return reward_points(base, reward_percent(rewards, brand=brand, years=tenure_years_for_bill(join_date, month)))


# -- FIFO -------------------------------------------------------------------------------------------------------------


def fifo_take(lots, wanted: int) -> list[tuple[object, int]]:
    """Take `wanted` points from `lots` [(key, remaining)] already ordered oldest first (expires_on, id).

    Returns [(key, taken)] for the lots touched; InsufficientPoints when they hold fewer."""
    available = sum(remaining for _, remaining in lots)
    if wanted > available:
        raise InsufficientPoints(available, wanted)
    taken, left = [], wanted
    for key, remaining in lots:
        if left <= 0:
            break
        take = min(remaining, left)
        if take > 0:
            taken.append((key, take))
            left -= take
    return taken


# -- credit stars (§7) ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditTable:
    brand_points: dict[str, int]
    tenure_points: tuple[tuple[int, int], ...]  # (full years, points), highest years first
    average_bands: tuple[tuple[Decimal, int], ...]  # (average ≤ yuan, points), lowest band first
    over_top_band_points: int
    bills_counted: int
    suspension_penalty: int
    suspension_months: int
    star_thresholds: tuple[tuple[int, int], ...]  # (minimum score, stars), highest first
    # credit reactivation (信用开机, DOMAIN §10): (minimum stars, hours), highest first
    reactivation_hours: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_data(
        cls,
        *,
        brand_points,
        tenure_points,
        average_bands,
        over_top_band_points,
        bills_counted,
        suspension_penalty,
        suspension_months,
        star_thresholds,
        reactivation_hours=(),
    ) -> "CreditTable":
        return cls(
            brand_points={str(k): int(v) for k, v in (brand_points or {}).items()},
            tenure_points=tuple(sorted(((int(y), int(p)) for y, p in tenure_points or []), reverse=True)),
            average_bands=tuple(sorted((Decimal(str(b)), int(p)) for b, p in average_bands or [])),
            over_top_band_points=int(over_top_band_points),
            bills_counted=int(bills_counted),
            suspension_penalty=int(suspension_penalty),
            suspension_months=int(suspension_months),
            star_thresholds=tuple(sorted(((int(s), int(n)) for s, n in star_thresholds or []), reverse=True)),
            reactivation_hours=tuple(sorted(((int(s), int(h)) for s, h in reactivation_hours or []), reverse=True)),
        )


DEFAULT_CREDIT_TABLE = CreditTable.from_data(
    brand_points={"gotone": 50, "mzone": 30, "easyown": 20},
    tenure_points=[[1, 50], [2, 150], [3, 200], [4, 250], [5, 300]],
    average_bands=[["20", 0], ["50", 20], ["80", 50], ["120", 100], ["200", 150], ["400", 200]],
    over_top_band_points=250,
    bills_counted=6,
    suspension_penalty=100,
    suspension_months=12,
    star_thresholds=[[500, 5], [400, 4], [300, 3], [200, 2], [100, 1]],
    reactivation_hours=[[5, 72], [4, 48], [3, 24]],
)


def suspension_window(on: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The days whose suspensions count on `on`: the `months` months before it, `on` included
    (on 2026-11-15 with 12 months: 2025-11-16 … 2026-11-15)."""
    return dates.months_before(on, months) + dt.timedelta(days=1), on


def to_fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def average_points(table: CreditTable, amounts) -> int:
    """Points of the average of `amounts` (exact; no bills: an average of 0). Compared in fen × count, so the
    boundaries are exact: an average of exactly 20.00 is in the ≤ 20 band."""
    amounts = list(amounts)
    total, n = sum(to_fen(a) for a in amounts), len(amounts)
    for ceiling, points in table.average_bands:
        if total <= to_fen(ceiling) * n:
            return points
    return table.over_top_band_points


def tenure_points(table: CreditTable, years: int) -> int:
    return next((points for min_years, points in table.tenure_points if years >= min_years), 0)


def stars_for(table: CreditTable, score: int) -> int:
    return next((stars for minimum, stars in table.star_thresholds if score >= minimum), 0)


def credit_reactivation_hours(table: CreditTable, stars: int) -> int:
    """The hours of credit reactivation (信用开机) the stars give (five 72 h, four 48 h, three 24 h), or 0."""
    return next((hours for minimum, hours in table.reactivation_hours if stars >= minimum), 0)


@dataclass(frozen=True)
class CreditScore:
    on: dt.date
    brand: int
    tenure_years: int
    tenure: int
    bills: tuple[Decimal, ...]
    average: Decimal | None
    average_points: int
    suspensions: int
    suspension_points: int
    score: int
    stars: int


def last_bills(table: CreditTable, bills: dict[dt.date, Decimal], on: dt.date) -> list[Decimal]:
    """The last `bills_counted` monthly bills before `on`'s month (fewer if fewer exist), newest first."""
    first_of_month = on.replace(day=1)
    months = sorted((m for m in bills if m < first_of_month), reverse=True)[: table.bills_counted]
    return [Decimal(bills[m]) for m in months]


def credit_score(
    table: CreditTable,
    *,
    brand: str,
    join_date: dt.date,
    bills: dict[dt.date, Decimal],
    suspensions: list[dt.date],
    on: dt.date,
) -> CreditScore:
    """The credit score and stars of a customer on `on` (§7). `bills`: month → amount (any months; the last
    ones before `on`'s month count); `suspensions`: the local dates on which suspensions started."""
    counted = last_bills(table, bills, on)
    years = dates.full_years(join_date, on)
    first, last = suspension_window(on, table.suspension_months)
    n_susp = sum(1 for d in suspensions if first <= d <= last)
    brand_pts = table.brand_points.get(brand, 0)
    tenure_pts = tenure_points(table, years)
    avg_pts = average_points(table, counted)
    score = brand_pts + tenure_pts + avg_pts - table.suspension_penalty * n_susp
    average = (sum(counted, Decimal(0)) / len(counted)).quantize(Decimal("0.01")) if counted else None
    return CreditScore(
        on=on,
        brand=brand_pts,
        tenure_years=years,
        tenure=tenure_pts,
        bills=tuple(counted),
        average=average,
        average_points=avg_pts,
        suspensions=n_susp,
        suspension_points=-table.suspension_penalty * n_susp,
        score=score,
        stars=stars_for(table, score),
    )


# -- privileges that other systems apply (DOMAIN §10) ----------------------------------------------------------------

# API.md `GET /customers/{msisdn}/privileges/` and the `privileges.changed` event, in this order.
PRIVILEGES = (
    "holiday_no_suspension",
    "delayed_suspension_hours",
    "credit_reactivation_hours",
    "priority_hotline",
    "priority_hall",
)
STARS = range(0, 6)  # the stars a credit rating can hold (CreditRating's check: 0–5)


def privileges(table: CreditTable, *, member: bool, stars: int, opted_out: bool = False) -> dict:
    """What the club tells BOSS and the hotline to apply for a customer (节假日免停机, 延迟停机, 信用开机, the priority
    hotline and hall queue): members get the holiday no-suspension and the priority hotline and hall (every tier,
    key-person floors too: they keep the green channel), and the delayed suspension and credit reactivation hours of
    their credit stars (five 72 h, four 48 h, three 24 h: the credit table's hours); a customer who is not a member
    gets none. `stars`: the stored credit stars (none computed yet: 0). A member who opted out of the holiday
    no-suspension (`opted_out`, DOMAIN §10 "unless they opted out") keeps everything else.

    The one rule: the endpoint calls it, and the set-based events are generated from `privilege_table`."""
    hours = credit_reactivation_hours(table, stars) if member else 0
    return {
        "holiday_no_suspension": member and not opted_out,
        "delayed_suspension_hours": hours,
        "credit_reactivation_hours": hours,
        "priority_hotline": member,
        "priority_hall": member,
    }


OPTED_OUT_KEY = 20


def privilege_key(*, member: bool, stars: int, opted_out: bool = False) -> int:
    """The inputs of `privileges` as one small number (the SQL computes the same: engine.privilege_key_sql and the
    opt-out's OPTED_OUT_KEY added by engine.privileges_events_sql)."""
    return (OPTED_OUT_KEY if opted_out else 0) + (10 if member else 0) + stars


def privilege_table(table: CreditTable) -> dict[int, dict]:
    """`privileges` for every possible input, by `privilege_key`: the set-based SQL looks answers up in it."""
    return {
        privilege_key(member=member, stars=stars, opted_out=opted_out): privileges(
            table, member=member, stars=stars, opted_out=opted_out
        )
        for opted_out in (False, True)
        for member in (False, True)
        for stars in STARS
    }
