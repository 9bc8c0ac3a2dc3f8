"""The set-based rating engine: one chunk of customers (an id range) evaluated in SQL.

Per chunk, in one transaction: the decision of every customer in the range is computed once (bills
aggregated in SQL, floors and overrides joined, the validity rules as CASE expressions); then the changed
rows are appended to the history, upserted into the current state, and counted. On PostgreSQL that is one
statement (the writes are data-modifying CTEs over the materialized decision); SQLite, which has no
data-modifying CTEs, keeps the decision in a temporary table for the three statements. No query runs per
customer. The expressions in which PostgreSQL and SQLite differ come from `core.sql`.

`evaluate_chunk` composes named builders: `score_sql` (the bills' score and the rank it wins), `floors_sql`
(plan, key person, move-in floor, override), `current_sql` (the current state), `decision_sql` (candidate and
transition), `history_sql`, `events_sql` and `state_sql` (the writes), run by `run_decision`. An applied change
writes its `tier.changed` outbound event (DOMAIN §11) in the same statement batch as its history row.

The rules are the same as `tiers.rules.evaluate` (the reference); tests assert that both agree.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from core import dates
from core.models import OutboxEvent
from core.sql import Params
from customers.models import Customer, Group, KeyPerson, MonthlyBill, PlanPeriod

from . import rules
from .models import CustomerTier, DryRunChange, Tier, TierChange, TierOverride, TransferFloor

TEMP = "tier_decision"
CUSTOMERS = Customer._meta.db_table
BILLS = MonthlyBill._meta.db_table
PLANS = PlanPeriod._meta.db_table
KEY_PERSONS = KeyPerson._meta.db_table
GROUPS = Group._meta.db_table
TIERS = Tier._meta.db_table
FLOORS = TransferFloor._meta.db_table
OVERRIDES = TierOverride._meta.db_table
STATE = CustomerTier._meta.db_table
HISTORY = TierChange._meta.db_table
DRY_RUN_HISTORY = DryRunChange._meta.db_table
OUTBOX = OutboxEvent._meta.db_table
WRITE_EVENTS = True  # False only in bench/rerate.py, to compare a run with its events to the same run without
CHANGED = "transition IN ('joined', 'upgraded', 'renewed', 'downgraded', 'left')"


@dataclass
class ChunkResult:
    customers: int
    counts: dict[str, int]


def evaluate_chunk(
    *,
    run_id: int | None,
    policy: rules.Policy,
    month: dt.date,
    closed_months: list[dt.date],
    lo: int,
    hi: int,
    tier_ids: dict[str, int],
    apply: bool,
) -> ChunkResult:
    """Evaluate customers with lo <= id <= hi for `month`'s run. Must run inside a transaction.

    The decision (the score, the floors and the current state joined per customer, then the transition) is one
    query; the changed rows are appended to the history, and an applied run (apply=True) upserts them into the
    current state; the transitions are counted. A dry run (apply=False) writes only what would change, to the dry
    run's history (DryRunChange). An applied run writes a `tier.changed` event per change."""
    p = Params()
    on = rules.evaluation_date(month, policy.run_day)
    window = set(rules.window_months(month, policy.window_months))
    score = score_sql(p, policy, on=on, months=sorted(m for m in closed_months if m in window), lo=lo, hi=hi)
    floors = floors_sql(p, policy, on=on, lo=lo, hi=hi)
    current = current_sql(p, policy, tier_ids=tier_ids, lo=lo, hi=hi)
    decision = decision_sql(p, score, floors, current, policy=policy, month=month, on=on, lo=lo, hi=hi)
    writes = [history_sql(p, policy, run_id=run_id, on=on, tier_ids=tier_ids, dry_run=not apply)]
    if apply:
        writes.append(state_sql(p, policy, on=on, tier_ids=tier_ids))
        if WRITE_EVENTS:
            writes.append(events_sql(p, policy, run_id=run_id, on=on))
    counts = run_decision(p, decision, writes)
    return ChunkResult(customers=sum(counts.values()), counts=counts)


def apply_floors(
    *, policy: rules.Policy, on: dt.date, lo: int, hi: int, tier_ids: dict[str, int], only: str | None = None
) -> ChunkResult:
    """Floors between runs (DOMAIN §3, `rules.evaluate_day`): the floors in force on `on` apply and the lapsed ones are
    lifted, for the customers with lo <= id <= hi who have a floor in force or hold a tier by one. The same decision
    as a run's without a new score: the score-won tier comes from the state (still valid on `on`), and a tier held
    by score is never lowered here. Changes are history rows (no run, effective `on`). Must run inside a
    transaction.

    `only`: a subquery of customer ids (the daily job's customers whose floor inputs changed since its previous run):
    only those are evaluated, each exactly as the whole club's pass would."""
    p = Params()
    score = Score(bills="", units="CAST(NULL AS BIGINT)", rank="0")
    floors = floors_sql(p, policy, on=on, lo=lo, hi=hi, only=only)
    current = current_sql(p, policy, tier_ids=tier_ids, lo=lo, hi=hi, only=only)
    decision = decision_sql(p, score, floors, current, policy=policy, month=None, on=on, lo=lo, hi=hi, only=only)
    writes = [
        history_sql(p, policy, run_id=None, on=on, tier_ids=tier_ids, dry_run=False, daily=True),
        state_sql(p, policy, on=on, tier_ids=tier_ids),
        events_sql(p, policy, run_id=None, on=on, daily=True),
    ]
    counts = run_decision(p, decision, writes, tune=False)  # one statement a day: the caller's settings do
    return ChunkResult(customers=sum(counts.values()), counts=counts)


# -- the score -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    bills: str  # the `b` CTE: (customer_id, bill_sum) of the window's bills in the range
    units: str  # a customer's score in integer units (points, or fen a month for the average-spend policy)
    rank: str  # the rank the score wins (0 below every threshold or before the minimum tenure)


def _month_filter(p: Params, months: list[dt.date]) -> str:
    """The bills of these billing months (sorted), as date ranges: one per run of consecutive months (usually the
    whole window), cheaper per bill row than an IN list of twelve dates."""
    if not months:
        return "AND 1 = 0"
    runs = [[months[0], months[0]]]
    for m in months[1:]:
        if m == dates.add_months(runs[-1][1], 1):
            runs[-1][1] = m
        else:
            runs.append([m, m])
    ranges = [f"(month >= {p(a)} AND month < {p(dates.add_months(b, 1))})" for a, b in runs]
    return "AND (" + " OR ".join(ranges) + ")"


def score_sql(p: Params, policy: rules.Policy, *, on: dt.date, months: list[dt.date], lo: int, hi: int) -> Score:
    """The score of `c` (customer) and `b` (bills) rows, in integer units, and the rank it wins on `on`."""
    d, rank_of = p.d, policy.ranks
    if policy.kind == rules.ANNUAL:
        tenure_rows = sorted(policy.tenure_bonus, reverse=True)
        bonus = (
            "CASE "
            + " ".join(
                f"WHEN c.join_date <= {p(dates.years_before(on, years))} THEN {p(bonus)}"
                for years, bonus in tenure_rows
            )
            + " ELSE 0 END"
            if tenure_rows
            else "0"
        )
        units = f"(COALESCE(b.bill_sum, 0) + {bonus})"
        bill_sum = d.sum_yuan("amount")  # only the sum the policy scores is aggregated
    else:
        units = f"(COALESCE(b.bill_sum, 0) / {p(policy.window_months)})"
        bill_sum = d.sum_fen("amount")
    score_case = (
        "CASE "
        + " ".join(
            f"WHEN {units} >= {p(rules.threshold_units(policy, thr))} THEN {p(rank_of[code])}"
            for code, thr in sorted(policy.thresholds.items(), key=lambda kv: -rank_of[kv[0]])
        )
        + " ELSE 0 END"
        if policy.thresholds
        else "0"
    )
    can_win = f"(c.join_date <= {p(dates.months_before(on, policy.min_tenure_months))})"
    bills = f"""SELECT customer_id, {bill_sum} AS bill_sum
        FROM {BILLS}
        WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} {_month_filter(p, months)}
        GROUP BY customer_id"""
    return Score(bills=bills, units=units, rank=f"CASE WHEN {can_win} THEN {score_case} ELSE 0 END")


# -- the floors: plan, key person, move-in, override ------------------------------------------------------------------


@dataclass(frozen=True)
class Floors:
    ctes: str  # pl (plan in force), kp (key-person rank), tf (move-in floor), ov (override), each per customer
    plan_rank: str  # the rank the plan in force grants (a plan counts from its effective date)


def _only(column: str, only: str | None) -> str:
    """` AND column IN (only)`, or nothing (`only`: a subquery of customer ids)."""
    return f" AND {column} IN ({only})" if only else ""


def floors_sql(p: Params, policy: rules.Policy, *, on: dt.date, lo: int, hi: int, only: str | None = None) -> Floors:
    """The floors in force on `on` per customer of the range (and of `only`, a subquery of ids), as CTEs to join."""
    rank_of = policy.ranks
    plan_rank = p.case("pl.plan_code", [(code, rank_of[t]) for code, t in policy.plan_tiers.items() if t in rank_of])
    kp_whens = []
    for role, group_class, tier in policy.key_person_tiers:
        if tier not in rank_of:
            continue
        if group_class:
            kp_whens.append(f"WHEN k.role = {p(role)} AND g.group_class = {p(group_class)} THEN {p(rank_of[tier])}")
        else:
            kp_whens.append(f"WHEN k.role = {p(role)} THEN {p(rank_of[tier])}")
    kp_case = "CASE " + " ".join(kp_whens) + " ELSE 0 END" if kp_whens else "0"
    day_start = timezone.make_aware(dt.datetime.combine(on, dt.time.min))
    ctes = f"""pl AS (
        {_latest_plan(p, on=on, lo=lo, hi=hi, only=only)}
    ), kp AS (
        SELECT k.customer_id, MAX({kp_case}) AS rnk
        FROM {KEY_PERSONS} k JOIN {GROUPS} g ON g.id = k.group_id
        WHERE k.customer_id BETWEEN {p(lo)} AND {p(hi)} AND k.set_at < {p(day_start)}{_only("k.customer_id", only)}
        GROUP BY k.customer_id
    ), tf AS (
        SELECT customer_id, rnk, kept_until FROM (
            SELECT f.customer_id, t.rank AS rnk, f.kept_until,
                   ROW_NUMBER() OVER (PARTITION BY f.customer_id ORDER BY t.rank DESC, f.kept_until DESC) AS rn
            FROM {FLOORS} f JOIN {TIERS} t ON t.id = f.tier_id AND t.active
            WHERE f.customer_id BETWEEN {p(lo)} AND {p(hi)}{_only("f.customer_id", only)}
              AND f.moved_on <= {p(on)} AND f.kept_until >= {p(on)}
        ) x WHERE rn = 1
    ), ov AS (
        SELECT customer_id, rnk, ends_on FROM (
            SELECT o.customer_id, t.rank AS rnk, o.ends_on,
                   ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.approved_at DESC, o.id DESC) AS rn
            FROM {OVERRIDES} o JOIN {TIERS} t ON t.id = o.tier_id
            WHERE o.customer_id BETWEEN {p(lo)} AND {p(hi)} AND o.status = 'approved'{_only("o.customer_id", only)}
              AND o.starts_on <= {p(on)} AND o.ends_on >= {p(on)}
        ) x WHERE rn = 1
    )"""
    return Floors(ctes=ctes, plan_rank=plan_rank)


def _latest_plan(p: Params, *, on: dt.date, lo: int, hi: int, only: str | None = None) -> str:
    """Each customer's plan period in force on `on`: (customer_id, plan_code, started_on)."""
    if p.d.postgres:  # DISTINCT ON takes half the time of ROW_NUMBER() over a window here
        return f"""SELECT DISTINCT ON (customer_id) customer_id, plan_code, started_on FROM {PLANS}
        WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND started_on <= {p(on)}{_only("customer_id", only)}
        ORDER BY customer_id, started_on DESC"""
    # SQLite takes a bare column from the row that holds the MAX() (documented behaviour)
    return f"""SELECT customer_id, plan_code, MAX(started_on) AS started_on FROM {PLANS}
        WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND started_on <= {p(on)}{_only("customer_id", only)}
        GROUP BY customer_id"""


def current_sql(
    p: Params, policy: rules.Policy, *, tier_ids: dict[str, int], lo: int, hi: int, only: str | None = None
) -> str:
    """The `cur` CTE: each customer's current state, its tier ranked as the policy ranks it (an inactive tier ranks
    0, as in rules.evaluate; a CASE over the few tier ids instead of a join per customer)."""
    rank_of = policy.ranks
    pairs = [(tier_ids[code], rank) for code, rank in rank_of.items() if code in tier_ids]
    cur_rank, beside_rank = p.case("s.tier_id", pairs), p.case("s.score_tier_id", pairs)
    return f"""SELECT s.customer_id, {cur_rank} AS rnk, s.source, s.valid_until, s.since,
               {beside_rank} AS beside_rnk, s.score_valid_until AS beside_until
        FROM {STATE} s
        WHERE s.customer_id BETWEEN {p(lo)} AND {p(hi)}{_only("s.customer_id", only)}"""


# -- the decision ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    ctes: str  # WITH … dec AS (…): every customer's facts, candidate and comparison with the current state
    select: str  # the decision rows the writes read, with their transition


def decision_sql(
    p: Params,
    score: Score,
    floors: Floors,
    current: str,
    *,
    policy: rules.Policy,
    month: dt.date | None,
    on: dt.date,
    lo: int,
    hi: int,
    only: str | None = None,
) -> Decision:
    """Per customer of the range: the best of the score tier and the floors (an override or a customer who cannot
    hold a tier forces the candidate), its source and validity, and the transition from the current state
    (rules.evaluate, rules.decide). The score tier is the score-won tier of the state while still valid on `on`
    (the current tier, or the one kept beside a floor), or the run's score when higher; beside a floor it is kept.

    `month` None: the daily floors step (rules.evaluate_day): no new score, only the customers who can hold a tier
    and have a floor in force or hold a tier by one, a tier held by score never lowered; `only` (a subquery of ids)
    narrows them further."""
    daily = month is None
    score_until = None if daily else rules.score_valid_until(month, policy.validity_months, policy.expiry_day)
    floor_sources = "('plan', 'key_person', 'transfer', 'override')"
    if daily:
        customers = f"""SELECT id, join_date, product_type, status FROM {CUSTOMERS}
        WHERE id BETWEEN {p(lo)} AND {p(hi)} AND product_type = 'primary' AND status <> 'closed'{_only("id", only)}
          AND id IN (
            SELECT customer_id FROM {STATE}
            WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND source IN {floor_sources}{_only("customer_id", only)}
            UNION SELECT customer_id FROM pl WHERE {floors.plan_rank} > 0
            UNION SELECT customer_id FROM kp WHERE rnk > 0
            UNION SELECT customer_id FROM tf
            UNION SELECT customer_id FROM ov)"""
        bills, join_bills = "", ""
    else:
        customers = f"SELECT id, join_date, product_type, status FROM {CUSTOMERS} WHERE id BETWEEN {p(lo)} AND {p(hi)}"
        bills, join_bills = f"b AS ({score.bills}), ", "LEFT JOIN b ON b.customer_id = c.id"
    fresh_until = "NULL" if daily else p(score_until)
    ctes = f"""
    WITH {floors.ctes}, c AS (
        {customers}
    ), {bills}cur AS (
        {current}
    ), f AS MATERIALIZED (
        SELECT c.id AS customer_id, c.status,
               CASE WHEN c.product_type = 'primary' AND c.status <> 'closed' THEN 1 ELSE 0 END AS can_hold,
               {score.units} AS units,
               {score.rank} AS score_rnk,
               COALESCE({floors.plan_rank}, 0) AS plan_rnk,
               COALESCE(kp.rnk, 0) AS kp_rnk,
               COALESCE(tf.rnk, 0) AS tf_rnk, tf.kept_until AS tf_until,
               ov.rnk AS ov_rnk, ov.ends_on AS ov_until,
               COALESCE(cur.rnk, 0) AS cur_rnk, COALESCE(cur.source, '') AS cur_source,
               cur.valid_until AS cur_until, cur.since AS cur_since,
               COALESCE(cur.beside_rnk, 0) AS cur_beside_rnk, cur.beside_until AS cur_beside_until,
               CASE WHEN cur.source = 'score' THEN cur.rnk ELSE cur.beside_rnk END AS keep_rnk,
               CASE WHEN cur.source = 'score' THEN cur.valid_until ELSE cur.beside_until END AS keep_until
        FROM c
        {join_bills}
        LEFT JOIN pl ON pl.customer_id = c.id
        LEFT JOIN kp ON kp.customer_id = c.id
        LEFT JOIN tf ON tf.customer_id = c.id
        LEFT JOIN ov ON ov.customer_id = c.id
        LEFT JOIN cur ON cur.customer_id = c.id
    ), kept AS (
        SELECT f.*,
            CASE WHEN can_hold = 1 AND COALESCE(keep_rnk, 0) > 0 AND keep_until >= {p(on)} THEN keep_rnk ELSE 0 END
                AS k_rnk
        FROM f
    ), sc AS (
        SELECT kept.*,
            CASE WHEN k_rnk > 0 AND k_rnk >= score_rnk THEN k_rnk ELSE score_rnk END AS s_rnk,
            CASE WHEN k_rnk > 0 AND k_rnk >= score_rnk THEN keep_until
                 WHEN score_rnk > 0 THEN {fresh_until} ELSE NULL END AS s_until
        FROM kept
    ), best AS (
        SELECT sc.*, {p.d.greatest("s_rnk", "plan_rnk", "kp_rnk", "tf_rnk")} AS best_rnk,
               {p.d.greatest("score_rnk", "plan_rnk", "kp_rnk", "tf_rnk")} AS fresh_rnk
        FROM sc
    ), cand AS (
        SELECT best.*,
            CASE WHEN can_hold = 0 THEN 0 WHEN ov_rnk IS NOT NULL THEN ov_rnk ELSE best_rnk END AS cand_rnk,
            CASE WHEN can_hold = 0 THEN ''
                 WHEN ov_rnk IS NOT NULL THEN 'override'
                 WHEN best_rnk = 0 THEN ''
                 WHEN s_rnk = best_rnk THEN 'score'
                 WHEN plan_rnk = best_rnk THEN 'plan'
                 WHEN kp_rnk = best_rnk THEN 'key_person'
                 ELSE 'transfer' END AS cand_source,
            CASE WHEN can_hold = 0 OR ov_rnk IS NOT NULL THEN 1 ELSE 0 END AS forced
        FROM best
    ), cand2 AS (
        SELECT cand.*,
            CASE cand_source WHEN 'score' THEN s_until WHEN 'transfer' THEN tf_until
                             WHEN 'override' THEN ov_until ELSE NULL END AS cand_until,
            CASE WHEN cand_source NOT IN ('score', '') AND s_rnk > 0 THEN s_rnk ELSE 0 END AS beside_rnk,
            CASE WHEN cand_source NOT IN ('score', '') AND s_rnk > 0 THEN s_until ELSE NULL END AS beside_until
        FROM cand
    ), dec AS (
        SELECT cand2.*,
            CASE WHEN cand_rnk = cur_rnk AND cand_source = cur_source
                      AND NOT (cand_until {p.d.distinct} cur_until) THEN 1 ELSE 0 END AS same_state,
            CASE WHEN {"1 = 0" if daily else "1 = 1"} AND forced = 0 AND cur_source = 'score' AND k_rnk > 0
                      AND fresh_rnk < k_rnk THEN 1 ELSE 0 END AS held,
            CASE WHEN {"1 = 1" if daily else "1 = 0"} AND forced = 0 AND cur_source = 'score'
                      AND cand_rnk < cur_rnk THEN 1 ELSE 0 END AS score_kept,
            CASE WHEN beside_rnk <> cur_beside_rnk OR (beside_until {p.d.distinct} cur_beside_until)
                 THEN 1 ELSE 0 END AS beside_changed
        FROM cand2
    ), tr AS (
        SELECT dec.*,
            CASE
                WHEN cand_rnk > cur_rnk THEN CASE WHEN cur_rnk = 0 THEN 'joined' ELSE 'upgraded' END
                WHEN score_kept = 1 THEN 'unchanged'
                WHEN held = 1 THEN 'held'
                WHEN cand_rnk = cur_rnk THEN CASE WHEN same_state = 1 THEN 'unchanged' ELSE 'renewed' END
                WHEN cand_rnk = 0 THEN 'left'
                ELSE 'downgraded'
            END AS transition,
            CASE WHEN forced = 0 AND CASE cur_source WHEN 'override' THEN 0 WHEN 'plan' THEN plan_rnk
                     WHEN 'key_person' THEN kp_rnk WHEN 'transfer' THEN tf_rnk ELSE cur_rnk END <> cur_rnk
                 THEN 1 ELSE 0 END AS lapsed
        FROM dec
    )"""
    # Only the columns that the writes read leave the decision (a wider row cost 10-15 % more to keep).
    select = f"""
    SELECT customer_id, status, units, cand_rnk, cur_rnk, cand_source, cand_until, cur_since, cur_source, forced,
        beside_rnk, beside_until, transition, lapsed,
        CASE WHEN {CHANGED} OR (score_kept = 0 AND beside_changed = 1) THEN 1 ELSE 0 END AS state_changed
    FROM tr"""
    return Decision(ctes=ctes, select=select)


# -- the writes (each reads the decision from {source}) ---------------------------------------------------------------


def _tier_of_rank(p: Params, policy: rules.Policy, rank: str, tier_ids: dict[str, int]) -> str:
    return p.case(rank, [(r, tier_ids[code]) for code, r in policy.ranks.items()], "NULL")


def history_sql(
    p: Params,
    policy: rules.Policy,
    *,
    run_id: int | None,
    on: dt.date,
    tier_ids: dict[str, int],
    dry_run: bool,
    daily: bool = False,
) -> str:
    """Append the changed rows to the history (a dry run's own table, which has no creation time). The reason: the
    new state's source; in the daily floors step, the source of the current floor when it lapsed (rules.evaluate_day)."""
    score = "units" if policy.kind == rules.ANNUAL else "units / 100.0"
    reason = _reason(daily)
    return f"""INSERT INTO {DRY_RUN_HISTORY if dry_run else HISTORY}
        (customer_id, run_id, from_tier_id, to_tier_id, transition, reason, score, effective_on, valid_until
         {"" if dry_run else ", created_at"})
        SELECT customer_id, {p(run_id)}, {_tier_of_rank(p, policy, "cur_rnk", tier_ids)},
               {_tier_of_rank(p, policy, "cand_rnk", tier_ids)}, transition, {reason}, {score},
               {p(on)}, cand_until {"" if dry_run else ", " + p.d.now}
        FROM {{source}} WHERE {CHANGED}"""


def _reason(daily: bool, t: str = "") -> str:
    """The reason of a change (columns of the decision, prefixed by `t`)."""
    if daily:
        return f"CASE WHEN {t}lapsed = 1 THEN {t}cur_source ELSE {t}cand_source END"
    return (
        f"CASE WHEN {t}cand_rnk = 0 THEN CASE WHEN {t}status = 'closed' THEN 'closure' ELSE 'score' END"
        f" ELSE {t}cand_source END"
    )


def events_sql(p: Params, policy: rules.Policy, *, run_id: int | None, on: dt.date, daily: bool = False) -> str:
    """Write a `tier.changed` outbound event per changed row (API.md "Outbound events": from_tier, to_tier, reason,
    effective_on, valid_until, run), with the customer's msisdn; the same rows and data as the history's."""
    codes = [(r, code) for code, r in policy.ranks.items()]
    data = p.d.json_object(
        {
            "from_tier": p.case("d.cur_rnk", codes, "NULL"),
            "to_tier": p.case("d.cand_rnk", codes, "NULL"),
            "reason": _reason(daily, "d."),
            "effective_on": p(on),
            "valid_until": "d.cand_until",
            "run": f"CAST({p(run_id)} AS BIGINT)",
        }
    )
    return f"""INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'tier.changed', d.customer_id, c.msisdn, {p.d.now}, {data}, {p.d.now}
        FROM {{source}} d JOIN {CUSTOMERS} c ON c.id = d.customer_id
        WHERE d.{CHANGED}
        ORDER BY d.customer_id"""


def state_sql(p: Params, policy: rules.Policy, *, on: dt.date, tier_ids: dict[str, int]) -> str:
    """Upsert the changed rows into the current state (`since` kept when the rank stays), also those where only the
    score tier kept beside a floor changed (no history row for that)."""
    return f"""INSERT INTO {STATE}
            (customer_id, tier_id, source, valid_until, since, score_tier_id, score_valid_until, updated_at)
        SELECT customer_id, {_tier_of_rank(p, policy, "cand_rnk", tier_ids)}, cand_source, cand_until,
               CASE WHEN cand_rnk = 0 THEN NULL WHEN cand_rnk = cur_rnk THEN cur_since ELSE {p(on)} END,
               {_tier_of_rank(p, policy, "beside_rnk", tier_ids)}, beside_until, {p.d.now}
        FROM {{source}} WHERE state_changed = 1
        ON CONFLICT (customer_id) DO UPDATE SET
            tier_id = excluded.tier_id, source = excluded.source, valid_until = excluded.valid_until,
            since = excluded.since, score_tier_id = excluded.score_tier_id,
            score_valid_until = excluded.score_valid_until, updated_at = excluded.updated_at"""


COUNT_SQL = "SELECT transition, COUNT(*) FROM {source} GROUP BY transition"


def run_decision(p: Params, decision: Decision, writes: list[str], *, tune: bool = True) -> dict[str, int]:
    """Compute the decision once, run the writes over it, and count the transitions (`tune`: a run's chunk settings
    on PostgreSQL)."""
    with connection.cursor() as cursor:
        if p.d.postgres:
            # One statement: the decision is materialized once and the writes are data-modifying CTEs reading
            # it (a temporary table cost a third of the chunk). JIT compiled this statement anew in every
            # chunk (0.13-0.33 s of 0.5-0.7 s); work_mem keeps the materialized decision in memory.
            if tune:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute(
                decision.ctes
                + f", {TEMP} AS MATERIALIZED ({decision.select})"
                + "".join(f", write_{i} AS ({w.format(source=TEMP)})" for i, w in enumerate(writes))
                + " "
                + COUNT_SQL.format(source=TEMP),
                p,
            )
            return {t: n for t, n in cursor.fetchall()}
        # SQLite has no data-modifying CTEs: the decision is kept in a temporary table for the writes
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP}")
        cursor.execute(p.d.temp_create(TEMP) + decision.ctes + decision.select, p)
        for write in writes:
            cursor.execute(write.format(source=TEMP), p)
        cursor.execute(COUNT_SQL.format(source=TEMP))
        counts = {t: n for t, n in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {TEMP}")
    return counts
