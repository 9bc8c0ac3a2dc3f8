"""Benchmark of the account managers' daily job (managers.daily.daily_run) on the bench database (PostgreSQL).

    .venv/bin/python bench/daily.py [--repeat 3] [--no-explain] [--setup-only] [--strict] [--wait 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/vipclub_bench (see bench/_common.py); the script
refuses SQLite, a database with fewer than 100k customers, or one with customers that generate_bench_data did
not create, because it EMPTIES managers_obligation and managers_notification between measurements. It first waits
(--wait, default 600 s) for the bench lock and until no other session uses the database (bench/_common.py), then
refuses.

Setup (idempotent, set-based, only what is missing; everything it creates is marked "bench"):
  - `migrate managers` when the managers tables are missing;
  - members: when no customer holds a tier, an applied rating run (tiers' production path, 2 threads) of the
    month after the last billed month, as bench/rerate.py's first run does (the pipeline receiver disconnected);
  - 300 supervisor users and 3,000 account managers (users bench-am-NNNN, employee_no BENCH-NNNN, 600 per bench
    region, 10 per supervisor) and one active assignment per member to a manager of the member's region;
  - contact logs (source "bench"): one call per member on the assignment's 3rd day, 70 % reached, 15 % no
    answer, 10 % powered off, 5 % forwarded (the unreachable follow-up has work to do);
  - 20,000 membership cards awaiting pickup (arrived over the 120 days before the ordinary day);
  - the setup's writes settled: `updated_at` of customers, current tiers and cards written in the last day moved a
    day back, as in a club whose load and monthly run happened weeks before the measured days (left "now", every
    row the setup wrote within the daily job's 10-minute margin before the preparing run counts as changed on the
    measured day: the 418,750 tiers of the setup's rating run made an ordinary day 28 x the bare scan).
  Group key persons are not created: they are customers-app data that the tiers benchmark rates (holiday
  greetings are not due on the measured days anyway: no greeting holiday within 14 days).

Measurements (each from the same state: obligations and notifications emptied, then the previous day's run as
preparation, VACUUM ANALYZE as autovacuum would, CHECKPOINT):
  (a) ordinary day  - Wednesday 14 October 2026: the period's obligations exist (prepared by 13 October), the job
                      checks every member and opens little; then the same day again (idempotent re-run);
  (b) period start  - Thursday 1 October 2026, first day of a month and a quarter: every member gets a periodic
                      obligation, September's and Q3's (prepared by 30 September, nobody logged a contact in the
                      bench) all become overdue; then the same day again;
  (c) the bare scan of the members, run twice, the second (warm) counts:
      SELECT count(*) FROM tiers_customertier t JOIN customers_customer c ON c.id = t.customer_id
      WHERE t.tier_id IS NOT NULL
Goals (issue 20): (a) <= 2 x (c) on the ordinary day, (b) <= 20 x (c) on the period-start day. The machine may be
shared, so each timed run is paired with a warm bare scan measured just before it, and the ratio of the pair
counts; with --repeat N (default 3) each measurement is repeated from its prepared state and medians count.
--days ordinary|period measures one of the two days only (results/daily_<day>.json). The job's run records
(managers_dailyrun: an incremental run continues from the previous one) are emptied with the obligations.
Unless --no-explain, every statement of each measured run is also profiled with EXPLAIN (ANALYZE, BUFFERS) in a transaction rolled back
before the timed run (then VACUUM), so the plans are in bench/results/daily.json.
"""

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MIN_CUSTOMERS = 100_000
GOAL = 2.0  # issue 20: an ordinary day <= 2 x the bare scan
GOAL_PERIOD = 20.0  # and a quarter's first day <= 20 x
ORDINARY = dt.date(2026, 10, 14)
PERIOD_START = dt.date(2026, 10, 1)
MANAGERS = 3000
PER_SUPERVISOR = 10
CARDS = 20_000
BARE_SCAN = (
    "SELECT count(*) FROM tiers_customertier t JOIN customers_customer c ON c.id = t.customer_id "
    "WHERE t.tier_id IS NOT NULL"
)
RESET_TABLES = "managers_obligation, managers_notification, managers_dailyrun"


def log(message: str = "") -> None:
    print(message, flush=True)


def sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])  # always formatted: %% means % everywhere
        if cursor.description:
            return cursor.fetchall()
        return cursor.rowcount


def one(statement: str, params=None):
    return sql(statement, params)[0][0]


def db_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


# -- setup -----------------------------------------------------------------------------------------------------------


def ensure_migrated() -> bool:
    from django.core.management import call_command
    from django.db import connection

    if "managers_obligation" in connection.introspection.table_names():
        return False
    log("  managers tables missing: migrate managers")
    call_command("migrate", "managers", verbosity=0)
    return True


def ensure_members(workers: int = 2) -> dict:
    """Members (a tier) for the job to serve: an applied rating run when nobody holds a tier."""
    members = one("SELECT count(*) FROM tiers_customertier WHERE tier_id IS NOT NULL")
    if members:
        return {"members": members, "rated": False}
    from core import dates
    from tiers import services
    from tiers.models import RunStatus
    from tiers.signals import rating_run_applied

    try:
        from vipclub.pipeline import start_monthly_pipeline

        rating_run_applied.disconnect(start_monthly_pipeline)
    except ImportError:
        pass
    last = one("SELECT max(month) FROM customers_monthlybill")
    month = dates.add_months(last, 1)
    log(f"  no members: rating run of {month:%Y-%m} (tiers' production path, {workers} threads)")
    with common.Stopwatch() as watch:
        run, _created = services.tier_run_start(month=month, force=True, dispatch=False)
        run = services.tier_run_execute(run=run, workers=workers)
    if run.status != RunStatus.DONE:
        raise SystemExit(f"rating run #{run.pk} ended {run.status}: {run.error}")
    members = one("SELECT count(*) FROM tiers_customertier WHERE tier_id IS NOT NULL")
    log(f"  rated in {watch.seconds:.1f} s: {members:,} members")
    return {"members": members, "rated": True, "rating_month": month, "rating_seconds": round(watch.seconds, 1)}


def ensure_managers() -> dict:
    supervisors = MANAGERS // PER_SUPERVISOR
    users = sql(
        """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                                  date_joined)
           SELECT '!', false, 'bench-sup-' || lpad(g::text, 3, '0'), '', '', 'bench-sup-' || g || '@example.invalid',
                  false, true, now() FROM generate_series(1, %s) g
           UNION ALL
           SELECT '!', false, 'bench-am-' || lpad(g::text, 4, '0'), '', '', 'bench-am-' || g || '@example.invalid',
                  false, true, now() FROM generate_series(1, %s) g
           ON CONFLICT (username) DO NOTHING""",
        [supervisors, MANAGERS],
    )
    managers = sql(
        """WITH r AS (SELECT id, row_number() OVER (ORDER BY code) - 1 AS rn, count(*) OVER () AS n
                      FROM customers_region WHERE code LIKE 'BENCH-%%')
           INSERT INTO managers_accountmanager (user_id, employee_no, name, region_id, capacity, active, supervisor_id)
           SELECT u.id, 'BENCH-' || lpad(g::text, 4, '0'), 'Bench manager ' || g, r.id, 300, true, s.id
           FROM generate_series(1, %s) g
           JOIN auth_user u ON u.username = 'bench-am-' || lpad(g::text, 4, '0')
           JOIN auth_user s ON s.username = 'bench-sup-' || lpad(((g - 1) / %s + 1)::text, 3, '0')
           JOIN r ON r.rn = g %% r.n
           ON CONFLICT (employee_no) DO NOTHING""",
        [MANAGERS, PER_SUPERVISOR],
    )
    if managers == 0 and not one("SELECT count(*) FROM managers_accountmanager WHERE employee_no LIKE 'BENCH-%%'"):
        raise SystemExit("no bench regions (customers_region code BENCH-…): is this a generate_bench_data database?")
    return {"users_created": users, "managers_created": managers}


def ensure_assignments() -> int:
    """One active assignment per member without one, to a bench manager of the member's region (round robin)."""
    return sql(
        """WITH m AS (SELECT id, region_id, row_number() OVER (PARTITION BY region_id ORDER BY id) - 1 AS rn
                      FROM managers_accountmanager WHERE employee_no LIKE 'BENCH-%%'),
                r AS (SELECT region_id, count(*) AS n FROM m GROUP BY region_id)
           INSERT INTO managers_assignment (customer_id, manager_id, started_on, ended_on, reason, end_reason,
                                            created_at)
           SELECT t.customer_id, m.id, DATE '2026-01-01' + (t.customer_id %% 200)::int, NULL, 'bench', '', now()
           FROM tiers_customertier t
           JOIN customers_customer c ON c.id = t.customer_id
           JOIN r ON r.region_id = c.region_id
           JOIN m ON m.region_id = c.region_id AND m.rn = c.id %% r.n
           WHERE t.tier_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM managers_assignment a WHERE a.customer_id = t.customer_id
                             AND a.ended_on IS NULL)"""
    )


def ensure_contacts() -> int:
    if one("SELECT EXISTS (SELECT 1 FROM managers_contactlog WHERE source = 'bench')"):
        return 0
    return sql(
        """INSERT INTO managers_contactlog (customer_id, manager_id, channel, outcome, note, occurred_at, source,
                                            created_at)
           SELECT a.customer_id, a.manager_id, 'call',
                  CASE WHEN h < 70 THEN 'reached' WHEN h < 85 THEN 'no_answer' WHEN h < 95 THEN 'powered_off'
                       ELSE 'forwarded' END,
                  '', (a.started_on + 3 + TIME '10:00') AT TIME ZONE 'Asia/Shanghai', 'bench', now()
           FROM (SELECT customer_id, manager_id, started_on, (customer_id * 7919) %% 100 AS h
                 FROM managers_assignment WHERE ended_on IS NULL AND reason = 'bench') a"""
    )


def ensure_cards() -> int:
    if one("SELECT EXISTS (SELECT 1 FROM managers_membershipcard WHERE card_name = 'bench')"):
        return 0
    return sql(
        """INSERT INTO managers_membershipcard (customer_id, tier_id, state, delivery_mode, card_name, landline,
               address, reissue, arrived_on, created_at, updated_at)
           SELECT t.customer_id, t.tier_id, 'awaiting_pickup', 'self_pickup', 'bench', '', '', false,
                  %s::date - (t.customer_id %% 120)::int, now(), now()
           FROM tiers_customertier t
           JOIN managers_assignment a ON a.customer_id = t.customer_id AND a.ended_on IS NULL
           WHERE t.tier_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM managers_membershipcard m WHERE m.customer_id = t.customer_id)
           ORDER BY t.customer_id %% 9973, t.customer_id
           LIMIT %s""",
        [ORDINARY, CARDS],
    )


def settle() -> int:
    """Move the setup's recent `updated_at` stamps a day back (see the module's docstring); rows moved."""
    moved = 0
    for table in ("customers_customer", "tiers_customertier", "managers_membershipcard"):
        moved += sql(
            f"UPDATE {table} SET updated_at = now() - interval '1 day' WHERE updated_at > now() - interval '1 day'"
        )
    return moved


def setup() -> dict:
    out = {"migrated": ensure_migrated()}
    out.update(ensure_members())
    out.update(ensure_managers())
    out["assignments_created"] = ensure_assignments()
    out["contacts_created"] = ensure_contacts()
    out["cards_created"] = ensure_cards()
    out["settled"] = settle()
    if any(out[k] for k in ("assignments_created", "contacts_created", "cards_created", "managers_created", "settled")):
        vacuum(
            "customers_customer, tiers_customertier, managers_accountmanager, managers_assignment, "
            "managers_contactlog, managers_membershipcard"
        )
    out["state"] = {
        "members": one("SELECT count(*) FROM tiers_customertier WHERE tier_id IS NOT NULL"),
        "members_by_tier": dict(
            sql("SELECT t.code, count(*) FROM tiers_customertier s JOIN tiers_tier t ON t.id = s.tier_id GROUP BY 1")
        ),
        "bench_managers": one("SELECT count(*) FROM managers_accountmanager WHERE employee_no LIKE 'BENCH-%%'"),
        "active_assignments": one("SELECT count(*) FROM managers_assignment WHERE ended_on IS NULL"),
        "contact_logs": one("SELECT count(*) FROM managers_contactlog"),
        "cards_awaiting_pickup": one("SELECT count(*) FROM managers_membershipcard WHERE state = 'awaiting_pickup'"),
        "key_persons": one("SELECT count(*) FROM customers_keyperson"),
        "contact_rules": [
            list(r)
            for r in sql(
                "SELECT t.code, r.kind, r.cadence, r.lead_days FROM managers_contactrule r "
                "JOIN tiers_tier t ON t.id = r.tier_id WHERE r.active ORDER BY 1, 2"
            )
        ],
    }
    return out


# -- database state between measurements ------------------------------------------------------------------------------


def reset() -> None:
    sql(f"TRUNCATE {RESET_TABLES} RESTART IDENTITY")


def vacuum(tables: str = RESET_TABLES) -> None:
    sql(f"VACUUM (ANALYZE) {tables}")


def checkpoint() -> None:
    sql("CHECKPOINT")


# -- measurements ----------------------------------------------------------------------------------------------------


def bare_scan(label: str = "bare scan") -> dict:
    times, answer = [], None
    checkpoint()
    for _ in range(2):
        with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
            answer = one(BARE_SCAN)
        times.append(watch.seconds)
    log(
        f"  {label}: first {times[0]:.3f} s, warm {times[1]:.3f} s ({answer:,} members); others used "
        f"{other.cpu_seconds} CPU s ({other.share:.0%})"
    )
    return {"members": answer, "seconds_first": round(times[0], 3), "seconds": round(times[1], 3), **other.as_dict()}


def bare_scan_plan() -> list[str]:
    return [r[0] for r in sql("EXPLAIN (ANALYZE, BUFFERS) " + BARE_SCAN)]


class _Rollback(Exception):
    pass


def profile(day: dt.date) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of every INSERT, UPDATE and CREATE TEMP TABLE … AS of a run of `day` (EXPLAIN
    ANALYZE executes them, so the run does its work), all rolled back. The foreign keys are checked at the end of
    each statement here (SET CONSTRAINTS ALL IMMEDIATE), so an INSERT's time includes what the commit costs."""
    from django.db import connection, transaction
    from django.utils import timezone

    from managers import daily

    plans: list[dict] = []

    def explain(execute, statement, params, many, context):
        head = statement.lstrip()[:6].upper()
        if head not in ("INSERT", "UPDATE", "CREATE") or "RETURNING" in statement:  # the ORM's (the run record)
            return execute(statement, params, many, context)
        started = time.perf_counter()
        result = execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params, many, context)
        rows = [r[0] for r in context["cursor"].fetchall()]
        text = "\n".join(rows)
        execution = re.search(r"Execution Time: ([\d.]+) ms", text)
        plans.append(
            {
                "statement": " ".join(statement.split())[:160],
                "ms": float(execution.group(1)) if execution else round((time.perf_counter() - started) * 1e3, 1),
                "plan": rows,
            }
        )
        return result

    try:
        with transaction.atomic(), connection.execute_wrapper(explain):
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            daily.daily_run(on=day, at=timezone.now())
            raise _Rollback
    except _Rollback:
        pass
    return plans


def timed_run(day: dt.date, label: str) -> dict:
    from django.utils import timezone

    from managers import daily

    checkpoint()
    load = os.getloadavg()
    with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
        result = daily.daily_run(on=day, at=timezone.now())
    counts = ", ".join(f"{k} {v:,}" for k, v in result["counts"].items() if v) or "nothing"
    steps = ", ".join(f"{k} {v:.2f}" for k, v in result["seconds"].items() if k != "total" and v >= 0.01)
    log(
        f"  {label}: {watch.seconds:.3f} s ({counts}; steps s: {steps}); load {load[0]:.2f}, others used "
        f"{other.cpu_seconds} CPU s ({other.share:.0%})"
    )
    return {
        "label": label,
        "day": day,
        "seconds": round(watch.seconds, 3),
        "counts": result["counts"],
        "details": result["details"],
        "step_seconds": result["seconds"],
        "loadavg_before": [round(x, 2) for x in load],
        **other.as_dict(),
    }


def measure(*, day: dt.date, label: str, repeat: int, explain: bool) -> dict:
    """From the prepared state of `day` (the previous day's run): the bare scan (warm), right after it the run of
    `day`, then its re-run; `repeat` times. The ratio of each run to the scan just before it is taken, so both
    see the same load on the machine; the medians count."""
    runs, reruns, scans, prep, plans = [], [], [], None, []
    for i in range(repeat):
        reset()
        prep = timed_run(day - dt.timedelta(days=1), f"prep {day - dt.timedelta(days=1)} (untimed for the goal)")
        vacuum()
        if explain and i == 0:
            plans = profile(day)
            vacuum()
            slow = ", ".join(f"{p['ms']:.0f} ms" for p in plans)
            log(f"  EXPLAIN ANALYZE of {len(plans)} statements of {day}: {slow}")
        scans.append(bare_scan(f"bare scan before #{i + 1}"))
        runs.append(timed_run(day, f"{label} {day} #{i + 1}"))
        reruns.append(timed_run(day, f"{label} {day} #{i + 1} again (idempotent re-run)"))
    ratios = [r["seconds"] / s["seconds"] for r, s in zip(runs, scans, strict=True)]
    rerun_ratios = [r["seconds"] / s["seconds"] for r, s in zip(reruns, scans, strict=True)]
    return {
        "day": day,
        "seconds": round(statistics.median(r["seconds"] for r in runs), 3),
        "seconds_all": [r["seconds"] for r in runs],
        "rerun_seconds": round(statistics.median(r["seconds"] for r in reruns), 3),
        "rerun_seconds_all": [r["seconds"] for r in reruns],
        "scan_seconds": round(statistics.median(s["seconds"] for s in scans), 3),
        "scan_seconds_all": [s["seconds"] for s in scans],
        "ratio": round(statistics.median(ratios), 2),
        "ratio_all": [round(x, 2) for x in ratios],
        "rerun_ratio": round(statistics.median(rerun_ratios), 2),
        "runs": runs,
        "reruns": reruns,
        "scans": scans,
        "prep": prep,
        "explain_analyze": plans,
    }


# -- main ------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement, median counts")
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN ANALYZE profile")
    parser.add_argument("--setup-only", action="store_true", help="create the bench managers etc., measure nothing")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal fails")
    parser.add_argument(
        "--days",
        choices=("both", "ordinary", "period"),
        default="both",
        help="measure the ordinary day, the period start or both (default); a result file of one day only",
    )
    parser.add_argument(
        "--wait", type=float, default=600, help="seconds to wait for other sessions on the database (default 600)"
    )
    args = parser.parse_args(argv)

    why = "This benchmark empties the obligations and notifications and needs the machine to itself. "
    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, why=why, log=log)
    facts = common.machine_facts()
    log(
        f"daily benchmark, {facts['date']}: {customers:,} customers; {facts['cpus_usable']} cores, "
        f"{facts['memory_gb']} GB, PostgreSQL {facts['postgresql_settings']['server_version']}; load "
        f"{facts['loadavg_at_start']}" + (f"; PGOPTIONS={facts['pgoptions']!r}" if facts["pgoptions"] else "")
    )
    log("setup")
    with common.Stopwatch() as watch:
        state = setup()
    s = state["state"]
    log(
        f"  {s['members']:,} members {s['members_by_tier']}, {s['bench_managers']:,} bench managers, "
        f"{s['active_assignments']:,} active assignments, {s['contact_logs']:,} contact logs, "
        f"{s['cards_awaiting_pickup']:,} cards awaiting pickup, {s['key_persons']:,} key persons "
        f"({watch.seconds:.1f} s)"
    )
    if args.setup_only:
        return 0

    out: dict = {
        "benchmark": "daily",
        "machine": facts,
        "data": {"customers": customers, **state},
        "settings": {"repeat": args.repeat, "explain": not args.no_explain},
    }
    started = time.monotonic()
    try:
        log("(c) bare scan of the members")
        out["bare_scan"] = {"sql": BARE_SCAN, **bare_scan(), "explain_analyze": bare_scan_plan()}
        if args.days in ("both", "ordinary"):
            log(f"(a) ordinary day {ORDINARY} (prepared by the run of the day before)")
            out["ordinary"] = measure(
                day=ORDINARY, label="ordinary day", repeat=args.repeat, explain=not args.no_explain
            )
        if args.days in ("both", "period"):
            log(f"(b) period start {PERIOD_START} (prepared by the run of the day before)")
            out["period_start"] = measure(
                day=PERIOD_START, label="period start", repeat=args.repeat, explain=not args.no_explain
            )
    finally:
        reset()
    if args.days != "both":  # one day only: printed, written aside (report.py reads daily.json, both days)
        path = common.write_results(f"daily_{args.days}", out)
        for key in ("ordinary", "period_start"):
            if key in out:
                m = out[key]
                log(
                    f"{key}: {m['seconds']:.3f} s = {m['ratio']} x the bare scan ({m['scan_seconds']:.3f} s); re-run "
                    f"{m['rerun_seconds']:.3f} s = {m['rerun_ratio']} x; steps #1: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in m["runs"][0]["step_seconds"].items())
                )
        log(f"written {path.relative_to(common.ROOT)}")
        return 0
    out["elapsed_seconds"] = round(time.monotonic() - started, 1)
    out["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    a, b = out["ordinary"], out["period_start"]
    passed = a["ratio"] <= GOAL
    out["goal"] = {
        "goal": f"(a) ordinary day <= {GOAL} x (c)",
        "value": a["ratio"],
        "passed": passed,
        "how": "median over the repeats of (run of the day) / (warm bare scan measured just before it)",
        "period_start_info": b["ratio"],
        "period_start_goal": f"(b) period start <= {GOAL_PERIOD} x (c)",
        "period_start_passed": b["ratio"] <= GOAL_PERIOD,
    }

    def opened(m: dict) -> str:
        counts = m["runs"][0]["counts"]
        return f"{sum(v for k, v in counts.items() if k not in ('overdue', 'notifications', 'emails')):,}"

    def all_of(values) -> str:
        return " / ".join(f"{v:.3f}" for v in values)

    rows = [
        [
            "(c) bare scan of the members (start: 1st / warm)",
            f"{out['bare_scan']['members']:,}",
            "-",
            "-",
            f"{out['bare_scan']['seconds_first']:.3f} / {out['bare_scan']['seconds']:.3f}",
            "-",
            "-",
        ]
    ]
    for m, name in ((a, f"(a) ordinary day {ORDINARY}"), (b, f"(b) period start {PERIOD_START}")):
        rows += [
            [
                "    (c) warm, just before each run",
                "-",
                "-",
                "-",
                all_of(m["scan_seconds_all"]),
                f"{m['scan_seconds']:.3f}",
                "1.00",
            ],
            [
                name,
                opened(m),
                f"{m['runs'][0]['counts']['overdue']:,}",
                f"{m['runs'][0]['counts']['notifications']:,}",
                all_of(m["seconds_all"]),
                f"{m['seconds']:.3f}",
                f"{m['ratio']}",
            ],
            [
                "    same day again (re-run)",
                "0",
                "0",
                "0",
                all_of(m["rerun_seconds_all"]),
                f"{m['rerun_seconds']:.3f}",
                f"{m['rerun_ratio']}",
            ],
        ]
    log()
    log(
        f"daily benchmark {facts['date']} — {facts['cpus_usable']} cores ({facts['cpu_model']}), "
        f"{facts['memory_gb']} GB, {facts['postgresql'].split(' on ')[0]}, {s['members']:,} members, "
        f"repeat {args.repeat}, load at start/end {facts['loadavg_at_start'][0]}/{out['machine']['loadavg_at_end'][0]}"
    )
    log(
        common.table(
            rows, ["measurement", "opened", "overdue", "notified", "seconds (each repeat)", "median s", "x (c)"]
        )
    )
    for key in ("ordinary", "period_start"):
        st = out[key]["runs"][0]["step_seconds"]
        log(f"  steps of {key} #1: " + ", ".join(f"{k} {v:.3f}" for k, v in st.items()))
    log()
    log(
        f"goal {out['goal']['goal']}: {out['goal']['value']} -> {'PASS' if passed else 'FAIL'} "
        f"(period start: {out['goal']['period_start_info']} x)"
    )
    path = common.write_results("daily", out)
    log(f"\nwritten {path.relative_to(common.ROOT)} ({out['elapsed_seconds']:.0f} s in all)")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(common.run(main))
