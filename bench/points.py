"""Benchmark of points on the bench database (1M customers, 12M bills, PostgreSQL): earning and expiry, set-based,
as ratios to the bare SQL.

    .venv/bin/python bench/points.py [--repeat 1] [--batch 10000] [--batches 3] [--wait 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/vipclub_bench (see bench/_common.py); the script
refuses SQLite, a database with fewer than 100k customers, or one with customers that generate_bench_data did
not create, because it EMPTIES the points tables (accounts, lots, ledger, jobs; the credit stars are recomputed in
place) before and after measuring. Customers and bills are only read; the points policy and reward rules are used as seeded.

What it measures (figures printed as tables and written to bench/results/points.json):
  (b) the bare aggregate of the earning, fetched fully server-side, run twice (the second counts):
        SELECT customer_id, year, SUM(FLOOR(amount)) FROM customers_monthlybill GROUP BY customer_id, year
  (w) the bare write: the same ledger rows (a bill's points, and its reward where the seeded rules give one)
      INSERTed by one statement into an index-free, constraint-free table (rolled back): the floor of writing them;
  (a) earning through the production path, services.points_earn_all (customer-id chunks of
      VIPCLUB_RATING_CHUNK_SIZE, one transaction each: lock the accounts, the difference of every bill to what it
      earned, lots upserted, one ledger entry per bill and kind, balances): every bill of the 12 months on empty
      points tables;
  (a') the same again on the state (a) left: nothing to post, the cost of the idempotency check;
  (i) the import path (vipclub.workflows.bills_import → points_earn_bills) for --batches batches of --batch bills
      (the API's largest request) of the last month whose earning was removed beforehand (untimed), per batch and
      extrapolated to a month of bills;
  (e) the December expiry through the production path, services.points_expire, on 31 December of the year
      whose lots expire (the oldest bill year + 2): every customer has such a lot; undone (untimed) between rounds;
  (eb) the bare SQL of the expiry: the aggregate of what expires, per customer, and the bare UPDATE emptying the
      lots (rolled back);
  (c) credit stars (§7) of every customer, services.credit_ratings_compute (info: the monthly pipeline step), and
      its bare read (the last 6 bills' average per customer).
With --repeat N every timed measurement but (a) and (a') is taken N times and the fastest counts. Each measurement
records the CPU time other processes used meanwhile (marked * above 10% of the cores). The script first waits
(--wait, default 600 s) until no other session uses the database, then refuses. Each timed step starts after a
CHECKPOINT; after the earning the points tables are VACUUM ANALYZEd, as autovacuum would have done.
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

# the credit ratings stay: generate_bench_data stores every customer's stars (as the monthly pipeline does) and the
# API read finds them there; (c) recomputes them in place
POINTS_TABLES = "points_pointsentry, points_pointslot, points_pointsaccount, points_pointsjob"
MIN_CUSTOMERS = 100_000
NOISY = 0.10


def log(message: str = "") -> None:
    print(message, flush=True)


# -- database state ---------------------------------------------------------------------------------------------------


def sql(statement: str, params=None, fetch: bool = False):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if fetch else None


def reset_points() -> None:
    sql(f"TRUNCATE {POINTS_TABLES} RESTART IDENTITY")


def checkpoint() -> None:
    sql("CHECKPOINT")


def vacuum_points() -> None:
    sql("VACUUM (ANALYZE) points_pointsentry, points_pointslot, points_pointsaccount")


def db_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


def bill_facts() -> tuple[dt.date, dt.date, int]:
    return sql("SELECT min(month), max(month), count(*) FROM customers_monthlybill", fetch=True)[0]


def measured(label: str, fn) -> dict:
    """Run fn() after a CHECKPOINT, timed, with the CPU other processes used meanwhile."""
    checkpoint()
    load = os.getloadavg()
    with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
        extra = fn() or {}
    result = {
        "label": label,
        "seconds": round(watch.seconds, 3),
        "loadavg_before": [round(x, 2) for x in load],
        **extra,
        **other.as_dict(),
    }
    log(
        f"  {label}: {watch.seconds:.2f} s; others used {other.cpu_seconds} CPU s ({other.share:.0%}), "
        f"PSI {other.pressure}" + (f"; {extra}" if extra else "")
    )
    return result


def best_of(results: list[dict]) -> dict:
    best = dict(min(results, key=lambda x: x["seconds"]))
    best["seconds_all"] = [x["seconds"] for x in results]
    return best


class _Rollback(Exception):
    pass


def rolled_back(fn):
    """Run fn() in a transaction that is rolled back; returns what fn returned."""
    from django.db import transaction

    box = {}
    try:
        with transaction.atomic():
            box["value"] = fn()
            raise _Rollback
    except _Rollback:
        pass
    return box.get("value")


# -- (b) and (w): the bare SQL of the earning -------------------------------------------------------------------------

AGGREGATE = """
SELECT count(*), sum(s) FROM (
    SELECT customer_id, EXTRACT(YEAR FROM month) AS y, SUM(FLOOR(amount)) AS s FROM customers_monthlybill
    WHERE month >= %s GROUP BY customer_id, y
) x"""


def bare_aggregate(since: dt.date) -> dict:
    times, answer = [], None
    for _ in range(2):
        checkpoint()
        with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
            answer = sql(AGGREGATE, [since], fetch=True)[0]
        times.append(watch.seconds)
    log(
        f"  bare aggregate: first {times[0]:.2f} s, warm {times[1]:.2f} s ({answer[0]:,} customer-years, "
        f"{int(answer[1]):,} points); others used {other.cpu_seconds} CPU s"
    )
    return {
        "sql": " ".join(AGGREGATE.split()),
        "customer_years": answer[0],
        "points": int(answer[1]),
        "seconds_first": round(times[0], 3),
        "seconds": round(times[1], 3),
        **other.as_dict(),
    }


def bare_write(since: dt.date, customers: tuple[int, int] | None = None) -> dict:
    """The ledger rows INSERTed by one statement into a bare table (no index, no constraint), rolled back; of the
    customers lo ≤ id ≤ hi when `customers` is (lo, hi)."""
    from core.sql import Params
    from points import engine, selectors

    p = Params()
    reward = engine.reward_hundredths(p, selectors.reward_rules())
    base = p.d.floor_int("b.amount")
    scope = f" AND b.customer_id BETWEEN {p(customers[0])} AND {p(customers[1])}" if customers else ""
    statement = f"""
        INSERT INTO bench_bare_ledger (customer_id, kind, amount, bill_month)
        SELECT customer_id, kind, pts, month FROM (
            SELECT b.customer_id, b.month, {base} AS base, ({base} * ({reward})) / 10000 AS reward
            FROM customers_monthlybill b JOIN customers_customer c ON c.id = b.customer_id
            WHERE b.month >= {p(since)} AND c.status <> 'closed'{scope}
        ) t CROSS JOIN LATERAL (VALUES ('earn', t.base), ('reward', t.reward)) AS v(kind, pts)
        WHERE pts <> 0"""

    def work():
        sql("CREATE TABLE bench_bare_ledger (customer_id bigint, kind varchar(12), amount bigint, bill_month date)")
        with common.Stopwatch() as watch:
            sql(statement, p)
        rows = sql("SELECT count(*) FROM bench_bare_ledger", fetch=True)[0][0]
        return {"seconds_insert": round(watch.seconds, 3), "rows": rows}

    checkpoint()
    with common.OtherLoad(db_name()) as other:
        result = rolled_back(work)
    log(
        f"  bare write: {result['seconds_insert']:.2f} s for {result['rows']:,} rows; others used "
        f"{other.cpu_seconds} CPU s"
    )
    return {"seconds": result["seconds_insert"], "rows": result["rows"], **other.as_dict()}


# -- (a), (a'), (i): earning through the production path --------------------------------------------------------------


def earn_all(label: str, on: dt.date) -> dict:
    from points import services
    from points.models import PointsEntry

    before = PointsEntry.objects.count()

    def run():
        job = services.points_earn_all(on=on, force=True, actor="bench")
        return {"job": job.pk, "chunks": job.chunks_done, "counts": job.counts}

    result = measured(label, run)
    result["entries_written"] = PointsEntry.objects.count() - before
    return result


def unearn(keys: list[tuple[int, dt.date]]) -> None:
    """Remove the earning of these bills (entries, their points in the lots, balances, consumption): untimed
    preparation of the import measurement, on the bench database only."""
    from points import engine

    engine.create_keys(keys)
    sql(f"""
        CREATE TEMP TABLE bench_unearn ON COMMIT DROP AS
        SELECT e.customer_id, e.year, e.kind, SUM(e.amount) AS pts FROM points_pointsentry e
        JOIN {engine.KEYS} k ON k.customer_id = e.customer_id AND k.month = e.bill_month
        WHERE e.kind IN ('earn', 'reward') GROUP BY e.customer_id, e.year, e.kind""")
    sql("""UPDATE points_pointslot l SET original = l.original - u.pts, remaining = l.remaining - u.pts
           FROM bench_unearn u WHERE l.customer_id = u.customer_id AND l.year = u.year AND l.kind = u.kind""")
    sql("""UPDATE points_pointsaccount a SET balance = a.balance - x.pts, total_consumption = a.total_consumption - x.c
           FROM (SELECT customer_id, SUM(pts) AS pts, SUM(CASE WHEN kind = 'earn' THEN pts ELSE 0 END) AS c
                 FROM bench_unearn GROUP BY customer_id) x WHERE a.customer_id = x.customer_id""")
    sql(f"""DELETE FROM points_pointsentry e USING {engine.KEYS} k
            WHERE k.customer_id = e.customer_id AND k.month = e.bill_month AND e.kind IN ('earn', 'reward')""")
    sql("DROP TABLE bench_unearn")
    engine.drop_keys()


def import_batches(*, month: dt.date, batch: int, batches: int, on: dt.date, first_id: int) -> dict:
    from django.db import transaction

    from points import services

    results = []
    for n in range(batches):
        ids = [
            r[0]
            for r in sql(
                "SELECT customer_id FROM customers_monthlybill WHERE month = %s AND customer_id >= %s "
                "ORDER BY customer_id LIMIT %s",
                [month, first_id + n * batch * 7, batch],
                fetch=True,
            )
        ]
        keys = [(i, month) for i in ids]
        with transaction.atomic():
            unearn(keys)

        def run(keys=keys):
            with transaction.atomic():
                r = services.points_earn_bills(bills=keys, on=on, actor="bench")
            return {"bills": r.bills, "points": r.points}

        results.append(measured(f"import batch {n + 1}: {len(keys):,} bills", run))
    best = best_of(results)
    best["bills_per_second"] = round(best["bills"] / best["seconds"], 1)
    return best


# -- (e), (eb): the expiry --------------------------------------------------------------------------------------------

EXPIRY_AGGREGATE = """
SELECT count(*), sum(s) FROM (
    SELECT customer_id, SUM(remaining) AS s FROM points_pointslot
    WHERE expires_on <= %s AND remaining > 0 GROUP BY customer_id
) x"""


def bare_expiry(on: dt.date) -> dict:
    times = []
    for _ in range(2):
        checkpoint()
        with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
            customers, points = sql(EXPIRY_AGGREGATE, [on], fetch=True)[0]
        times.append(watch.seconds)
    aggregate = {
        "sql": " ".join(EXPIRY_AGGREGATE.split()),
        "customers": customers,
        "points": int(points or 0),
        "seconds_first": round(times[0], 3),
        "seconds": round(times[1], 3),
        **other.as_dict(),
    }
    log(f"  bare expiry aggregate: first {times[0]:.2f} s, warm {times[1]:.2f} s ({customers:,} customers)")

    def update():
        with common.Stopwatch() as watch:
            sql("UPDATE points_pointslot SET remaining = 0 WHERE expires_on <= %s AND remaining > 0", [on])
        return watch.seconds

    checkpoint()
    with common.OtherLoad(db_name()) as other:
        seconds = rolled_back(update)
    log(f"  bare expiry UPDATE of the lots: {seconds:.2f} s (rolled back)")
    return {"aggregate": aggregate, "update": {"seconds": round(seconds, 3), **other.as_dict()}}


def expire(on: dt.date) -> dict:
    from points import services

    def run():
        job = services.points_expire(on=on, force=True, actor="bench")
        return {"chunks": job.chunks_done, "counts": job.counts}

    return measured(f"expiry on {on}", run)


def undo_expiry(on: dt.date) -> None:
    """Put the expired points back (untimed, between rounds): the bench never spends, so remaining = original."""
    from django.db import transaction

    with transaction.atomic():
        sql("""UPDATE points_pointsaccount a SET balance = a.balance + x.pts
               FROM (SELECT customer_id, -SUM(amount) AS pts FROM points_pointsentry WHERE kind = 'expire'
                     GROUP BY customer_id) x WHERE a.customer_id = x.customer_id""")
        sql("DELETE FROM points_pointsentry WHERE kind = 'expire'")
        sql("UPDATE points_pointslot SET remaining = original WHERE expires_on <= %s AND remaining = 0", [on])
        sql("DELETE FROM points_pointsjob WHERE kind = 'expire'")
    vacuum_points()


# -- (c): credit stars ------------------------------------------------------------------------------------------------

CREDIT_BARE = """
SELECT count(*), sum(s) FROM (
    SELECT customer_id, SUM(amount) AS s, COUNT(*) AS n FROM (
        SELECT customer_id, amount, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month DESC) AS rn
        FROM customers_monthlybill WHERE month < %s
    ) lb WHERE rn <= 6 GROUP BY customer_id
) x"""


def credit(on: dt.date) -> dict:
    from points import services

    checkpoint()
    with common.OtherLoad(db_name()) as other, common.Stopwatch() as watch:
        sql(CREDIT_BARE, [on], fetch=True)
    bare = {"sql": " ".join(CREDIT_BARE.split()), "seconds": round(watch.seconds, 3), **other.as_dict()}
    log(f"  bare read of the last 6 bills: {watch.seconds:.2f} s")

    def run():
        job = services.credit_ratings_compute(on=on, actor="bench")
        return {"chunks": job.chunks_done, "counts": job.counts}

    return {"bare": bare, "run": measured(f"credit stars on {on}", run)}


# -- main -------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the repeatable measurements (default 1)")
    parser.add_argument("--batch", type=int, default=10_000, help="bills per import batch (default 10000)")
    parser.add_argument("--batches", type=int, default=3, help="import batches measured (default 3)")
    common.add_wait_argument(parser)
    args = parser.parse_args(argv)

    why = "This benchmark empties the points tables and needs the machine to itself. "
    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, why=why, log=log)

    from django.conf import settings

    from points import selectors

    first_bill, last_bill, bills = bill_facts()
    on = dt.date(last_bill.year, last_bill.month, 1) + dt.timedelta(days=45)  # a business day after the last month
    since = dt.date(on.year - selectors.points_policy().expiry_years, 1, 1)
    expiry_day = dt.date(first_bill.year + selectors.points_policy().expiry_years, 12, 31)
    first_id = sql("SELECT min(id) FROM customers_customer", fetch=True)[0][0]
    facts = common.machine_facts()
    log(
        f"points benchmark, {facts['date']}: {customers:,} customers, {bills:,} bills {first_bill:%Y-%m}…"
        f"{last_bill:%Y-%m}; {facts['cpus_usable']} cores, {facts['memory_gb']} GB, PostgreSQL "
        f"{facts['postgresql_settings']['server_version']}; chunk size {settings.VIPCLUB_RATING_CHUNK_SIZE:,}; "
        f"earning on {on}, expiry on {expiry_day}; load {facts['loadavg_at_start']}"
    )
    out: dict = {
        "benchmark": "points",
        "machine": facts,
        "data": {"customers": customers, "bills": bills, "bill_months": [first_bill, last_bill]},
        "settings": {
            "chunk_size": settings.VIPCLUB_RATING_CHUNK_SIZE,
            "repeat": args.repeat,
            "batch": args.batch,
            "batches": args.batches,
            "earning_business_date": on,
            "expiry_business_date": expiry_day,
            "reward_rules": [r.__dict__ for r in selectors.reward_rules()],
        },
    }
    started = time.monotonic()
    rounds = []
    try:
        reset_points()
        log("(b) bare aggregate, (w) bare write")
        aggregate = bare_aggregate(since)
        write = bare_write(since)
        log("(a) earning every bill through the production path, on empty points tables")
        out["earn"] = earn_all("earn all bills (empty tables)", on)
        vacuum_points()
        log("(a') the same again: nothing to post")
        out["earn_again"] = earn_all("earn all bills again (nothing to post)", on)
        for n in range(1, args.repeat + 1):
            log(f"round {n}: (i) import batches, (e) expiry, (eb) bare expiry, (c) credit stars")
            r = {
                "import": import_batches(
                    month=last_bill, batch=args.batch, batches=args.batches, on=on, first_id=first_id + (n - 1) * 1000
                )
            }
            r["bare_expiry"] = bare_expiry(expiry_day)
            r["expire"] = expire(expiry_day)
            undo_expiry(expiry_day)
            r["credit"] = credit(on)
            rounds.append(r)
        out["aggregate"], out["bare_write"] = aggregate, write
    finally:
        reset_points()  # leave the points tables as generate_bench_data does: empty but for the credit stars
    out["elapsed_seconds"] = round(time.monotonic() - started, 1)
    out["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["import"] = best_of([r["import"] for r in rounds])
    out["expire"] = best_of([r["expire"] for r in rounds])
    out["bare_expiry_aggregate"] = best_of([r["bare_expiry"]["aggregate"] for r in rounds])
    out["bare_expiry_update"] = best_of([r["bare_expiry"]["update"] for r in rounds])
    out["credit"] = best_of([r["credit"]["run"] for r in rounds])
    out["credit_bare"] = best_of([r["credit"]["bare"] for r in rounds])

    b, w = out["aggregate"]["seconds"], out["bare_write"]["seconds"]
    a, a2 = out["earn"]["seconds"], out["earn_again"]["seconds"]
    imp = out["import"]
    month_bills = sql("SELECT count(*) FROM customers_monthlybill WHERE month = %s", [last_bill], fetch=True)[0][0]
    out["data"]["month_bills"] = month_bills
    e, eb, eu = out["expire"]["seconds"], out["bare_expiry_aggregate"]["seconds"], out["bare_expiry_update"]["seconds"]
    out["ratios"] = {
        "earn_over_bare_aggregate": round(a / b, 1),
        "earn_over_bare_write": round(a / w, 2),
        "earn_again_over_bare_aggregate": round(a2 / b, 1),
        "import_month_extrapolated_seconds": round(imp["seconds"] / imp["bills"] * month_bills, 1),
        "expire_over_bare_aggregate": round(e / eb, 1),
        "expire_over_bare_update": round(e / eu, 2),
        "credit_over_bare_read": round(out["credit"]["seconds"] / out["credit_bare"]["seconds"], 2),
    }

    def mark(x: dict) -> str:
        return "*" if x.get("other_cpu_share", 0) > NOISY else ""

    exp_counts = out["expire"]["counts"]
    rows = [
        ["(b) bare aggregate (customer, year), warm", f"{bills:,} bills", f"{b:.2f}{mark(out['aggregate'])}", "1"],
        [
            "(w) bare write of the ledger rows",
            f"{out['bare_write']['rows']:,} rows",
            f"{w:.2f}{mark(out['bare_write'])}",
            f"{w / b:.1f}",
        ],
        [
            "(a) earning, all bills, empty tables",
            f"{out['earn']['entries_written']:,} entries",
            f"{a:.2f}{mark(out['earn'])}",
            f"{a / b:.1f}",
        ],
        [
            "(a') earning again (nothing to post)",
            f"{out['earn_again']['counts'].get('bills', 0):,} bills posted",
            f"{a2:.2f}{mark(out['earn_again'])}",
            f"{a2 / b:.1f}",
        ],
        [
            f"(i) import batch of {imp['bills']:,} bills",
            f"{imp['bills_per_second']:,.0f} bills/s",
            f"{imp['seconds']:.2f}{mark(imp)}",
            "-",
        ],
        [
            "(eb) bare expiry aggregate, warm",
            f"{out['bare_expiry_aggregate']['customers']:,} customers",
            f"{eb:.2f}{mark(out['bare_expiry_aggregate'])}",
            "1",
        ],
        ["(eb) bare expiry UPDATE of the lots", "-", f"{eu:.2f}{mark(out['bare_expiry_update'])}", f"{eu / eb:.1f}"],
        [
            "(e) expiry, production path",
            f"{exp_counts.get('customers', 0):,} customers, {exp_counts.get('lots', 0):,} lots",
            f"{e:.2f}{mark(out['expire'])}",
            f"{e / eb:.1f}",
        ],
        ["(c) bare read of the last 6 bills", "-", f"{out['credit_bare']['seconds']:.2f}", "-"],
        [
            "(c) credit stars, all customers",
            f"{out['credit']['counts'].get('customers', 0):,} customers",
            f"{out['credit']['seconds']:.2f}{mark(out['credit'])}",
            "-",
        ],
    ]
    log()
    log(
        f"points benchmark {facts['date']} — {facts['cpus_usable']} cores ({facts['cpu_model']}), "
        f"{facts['memory_gb']} GB RAM, {facts['postgresql'].split(' on ')[0]}, chunk size "
        f"{settings.VIPCLUB_RATING_CHUNK_SIZE:,}, best of {args.repeat}, load at start/end "
        f"{facts['loadavg_at_start'][0]}/{out['machine']['loadavg_at_end'][0]}"
    )
    log(common.table(rows, ["measurement", "size", "seconds", "× bare"]))
    log(f"  * = other processes used more than {NOISY:.0%} of the cores meanwhile")
    log()
    log(common.table([[k, v] for k, v in out["ratios"].items()], ["ratio", "value"]))
    path = common.write_results("points", out)
    log(f"\nwritten {path.relative_to(common.ROOT)} ({out['elapsed_seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
