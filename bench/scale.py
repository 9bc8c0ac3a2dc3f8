"""Growth of the big jobs with the club's size: the same measurements at N customers, compared between sizes.

    .venv/bin/python bench/scale.py [--jobs rating,daily,outbox,api,import] [--import-bills N] [--api-seconds 10]
    .venv/bin/python bench/scale.py --compare bench/results/scale_1000000.json bench/results/scale_2000000.json

Measures, on the bench database as it is (load it first with `generate_bench_data --customers N --months 12
--wipe`; 1M takes about 4 minutes, 2M about 8, see README "Scaling"), and writes bench/results/scale_<N>.json:
  rating     the monthly run: a dry run of the rating month (the month after the last billed month, all customers,
             tiers' production path, 2 threads: the whole decision, written to the dry-run table; an applied run
             of a month runs once);
  daily      the daily job (bench/daily.py's setup and measurement): an ordinary day and a quarter's first day, each
             from its prepared state, against the warm bare scan of the members;
  outbox     one `tier.changed` event per member written by one INSERT … SELECT (the rating engine's statement
             shape), rolled back; the fastest of 3;
  api        GET /api/v1/customers/{msisdn}/ under 8 closed-loop connections on gunicorn (2 workers), msisdns
             sampled over the whole table: requests per second, p50, p99;
  import     a month of bills (one per customer, the month before the first billed one while the next has not
             ended) through vipclub.workflows.bills_import in pushes of 100,000, against a raw COPY of the same
             rows in the same pushes; each in one transaction rolled back (measured last: it leaves dead rows).
The rating job also times rerate.py's bare GROUP BY over the same 12 months (issue 20: the run ≤ 3 × it at 10M).
`--compare A B` prints, per job, B's time ÷ A's time beside the size ratio (linear: the two are equal; the goal of
issue 20 is ≤ 11 × for 10 × the customers and the API's p99 ≤ 1.2 × A's).
`make bench` runs it at the bench database's size; `bench/report.py` prints the growth rows from every
`scale_<N>.json` present (measure another size with `DATABASE_URL=…/vipclub_bench10 bench/scale.py`; `--jobs`
measures a part and merges it into that size's file). Like daily.py it empties the obligations and notifications.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MIN_CUSTOMERS = 100_000
JOBS = ("rating", "daily", "outbox", "api", "import")


def log(message: str = "") -> None:
    print(message, flush=True)


def rating() -> dict:
    from daily import one
    from rerate import AGGREGATE

    from core import dates
    from tiers import services
    from tiers.models import RunStatus

    last = one("SELECT max(month) FROM customers_monthlybill")
    month = dates.add_months(last, 1)
    database = one("SELECT current_database()")
    with common.OtherLoad(database) as other, common.Stopwatch() as watch:
        run, _ = services.tier_run_start(month=month, dry_run=True, force=True, dispatch=False)
        run = services.tier_run_execute(run=run, workers=2)
    if run.status != RunStatus.DONE:
        raise SystemExit(f"rating run #{run.pk} ended {run.status}: {run.error}")
    # the bare GROUP BY over the same 12 months (rerate.py's baseline): first execution, then the warm one counts
    bare = []
    for _ in range(2):
        with common.OtherLoad(database) as bare_other, common.Stopwatch() as bare_watch:
            one(AGGREGATE, [dates.add_months(month, -12), month])
        bare.append(bare_watch.seconds)
    ratio = round(watch.seconds / bare[-1], 2)
    log(
        f"  rating dry run {month:%Y-%m}: {watch.seconds:.1f} s; bare GROUP BY {bare[-1]:.1f} s (first "
        f"{bare[0]:.1f} s): {ratio} ×; others used {other.share:.0%} of the CPU"
    )
    return {
        "month": month,
        "seconds": round(watch.seconds, 2),
        "bare_seconds": round(bare[-1], 3),
        "bare_seconds_first": round(bare[0], 3),
        "ratio": ratio,
        "bare_other": bare_other.as_dict(),
        **other.as_dict(),
    }


def import_month(batch: int = 100_000, limit: int | None = None) -> dict:
    """A month of bills, one per customer, through the service in pushes of `batch` bills (as billing's bulk
    requests or CSV files arrive), against a raw COPY of the same rows; each side in one transaction rolled back.
    Only the calls are timed: the rows are read from the database between them. `limit`: stop after the push that
    reaches that many bills (the result says `partial` and extrapolates the month from the time per bill)."""
    from bills_import import _clean, copy_rows
    from daily import one, sql
    from django.db import transaction

    from core import dates
    from vipclub import workflows

    first, last = sql("SELECT min(month), max(month) FROM customers_monthlybill")[0]
    month = dates.add_months(last, 1)
    if dates.add_months(month, 1) > dt.date.today():  # bills only for ended months: the month before the first
        month = dates.add_months(first, -1)
    ids = [row[0] for row in sql(f"SELECT id FROM customers_customer WHERE mod(id, {batch}) = 0 ORDER BY id")]
    bounds = [0, *ids, one("SELECT max(id) FROM customers_customer") + 1]

    def rows(lo: int, hi: int) -> list[dict]:
        return [
            {"customer_id": cid, "msisdn": "", "month": month, "amount": amount, "paid": True}
            for cid, amount in sql(
                "SELECT customer_id, amount FROM customers_monthlybill WHERE month = %s AND customer_id >= %s "
                "AND customer_id < %s ORDER BY customer_id",
                [last, lo, hi],
            )
        ]

    out = {"month": month, "batch": batch}
    database = one("SELECT current_database()")
    for key, call in (
        ("copy", copy_rows),
        ("service", lambda r: workflows.bills_import(rows=_clean(r), on=dt.date.today())),
    ):
        seconds, bills = 0.0, 0
        with common.OtherLoad(database) as other, transaction.atomic():
            for lo, hi in zip(bounds, bounds[1:], strict=False):
                part = rows(lo, hi)
                if not part:
                    continue
                with common.Stopwatch() as watch:
                    call(part)
                seconds += watch.seconds
                bills += len(part)
                if limit and bills >= limit:
                    break
            transaction.set_rollback(True)
        out[key] = {"seconds": round(seconds, 2), "bills": bills, **other.as_dict()}
        log(f"  import {month:%Y-%m}, {key}: {bills:,} bills in {seconds:.1f} s (rolled back)")
    out["ratio"] = round(out["service"]["seconds"] / out["copy"]["seconds"], 2)
    out["month_bills"] = one("SELECT count(*) FROM customers_monthlybill WHERE month = %s", [last])
    out["partial"] = out["service"]["bills"] < out["month_bills"]
    # the month through the service, extrapolated from the time per bill when partial
    out["service_month_seconds"] = round(out["service"]["seconds"] / out["service"]["bills"] * out["month_bills"], 1)
    return out


def daily_job() -> dict:
    import daily

    daily.setup()
    daily.bare_scan("bare scan (first)")
    out = {}
    for key, day in (("ordinary", daily.ORDINARY), ("period_start", daily.PERIOD_START)):
        m = daily.measure(day=day, label=key, repeat=1, explain=False)
        out[key] = {
            "seconds": m["seconds"],
            "scan_seconds": m["scan_seconds"],
            "ratio": m["ratio"],
            "counts": m["runs"][0]["counts"],
        }
    daily.reset()
    return out


def outbox(samples: int = 3) -> dict:
    from django.db import connection, transaction

    sql = """INSERT INTO core_outboxevent (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'tier.changed', t.customer_id, c.msisdn, STATEMENT_TIMESTAMP(),
               jsonb_build_object('from_tier', NULL, 'to_tier', tt.code, 'reason', 'score',
                                  'effective_on', t.since, 'valid_until', t.valid_until, 'run', NULL),
               STATEMENT_TIMESTAMP()
        FROM tiers_customertier t JOIN customers_customer c ON c.id = t.customer_id
        JOIN tiers_tier tt ON tt.id = t.tier_id ORDER BY t.customer_id"""
    times, rows = [], 0
    for _ in range(samples):
        with transaction.atomic(), connection.cursor() as cursor:
            t0 = time.perf_counter()
            cursor.execute(sql)
            times.append(time.perf_counter() - t0)
            rows = cursor.rowcount
            transaction.set_rollback(True)
    log(f"  outbox: {rows:,} events in {min(times):.2f} s (fastest of {samples}, rolled back)")
    return {"events": rows, "seconds": round(min(times), 3), "seconds_all": [round(t, 3) for t in times]}


def api_read(seconds: float) -> dict:
    import api

    msisdns = api.sample_msisdns()
    token, _who = api.api_client_token()
    server = api.Server(workers=2)
    try:
        paths, headers = [f"/api/v1/customers/{m}/" for m in msisdns], {"Authorization": f"Token {token}"}
        api.load(server.port, paths, seconds=2, connections=8, headers=headers)
        best = None
        for _ in range(2):
            result = api.load(server.port, paths, seconds=seconds, connections=8, headers=headers)
            log(f"  api read: {result['rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
            if best is None or result["p99_ms"] < best["p99_ms"]:
                best = result
    finally:
        server.stop()
        api.delete_api_client()
    return best


def sizes() -> dict:
    from daily import sql

    rows = sql(
        "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' AND relnamespace = "
        "'public'::regnamespace ORDER BY 2 DESC LIMIT 8"
    )
    total = sql("SELECT pg_database_size(current_database())")[0][0]
    return {"database_bytes": total, "largest_tables": {name: size for name, size in rows}}


def compare(a_path: str, b_path: str) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    n = b["customers"] / a["customers"]
    rows = []

    def row(label, x, y, goal=None):
        growth = y / x if x else float("nan")
        rows.append([label, f"{x:.3f}", f"{y:.3f}", f"{growth:.2f} ×", f"{n:.2f} ×", goal or "≤ linear"])

    if "rating" in a and "rating" in b:
        row("monthly rating run (s)", a["rating"]["seconds"], b["rating"]["seconds"])
    for key in ("ordinary", "period_start"):
        row(f"daily job, {key} (s)", a["daily"][key]["seconds"], b["daily"][key]["seconds"])
    row("outbox, one event per member (s)", a["outbox"]["seconds"], b["outbox"]["seconds"])
    if "import" in a and "import" in b:
        row(
            "a month of bills through the service (s)",
            a["import"].get("service_month_seconds", a["import"]["service"]["seconds"]),
            b["import"].get("service_month_seconds", b["import"]["service"]["seconds"]),
        )
    row("api read p50 (ms)", a["api"]["p50_ms"], b["api"]["p50_ms"], "flat")
    row("api read p99 (ms)", a["api"]["p99_ms"], b["api"]["p99_ms"], "≤ 1.2 ×")
    row("database size (GB)", a["sizes"]["database_bytes"] / 1e9, b["sizes"]["database_bytes"] / 1e9)
    log(f"growth from {a['customers']:,} to {b['customers']:,} customers")
    log(common.table(rows, ["job", "A", "B", "B ÷ A", "size ratio", "goal"]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="print the growth between two results")
    parser.add_argument("--skip-rating", action="store_true", help="leave the monthly run out")
    parser.add_argument(
        "--jobs",
        default=",".join(JOBS),
        help=f"comma-separated subset of {','.join(JOBS)} (default all); measured jobs are merged into the size's "
        "existing results file, so a size can be measured in parts",
    )
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument(
        "--import-bills",
        type=int,
        default=None,
        help="the import job stops after this many bills (whole pushes of 100,000) and extrapolates the month",
    )
    common.add_wait_argument(parser)
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)

    jobs = [j for j in args.jobs.split(",") if j]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown:
        parser.error(f"unknown job(s) {', '.join(unknown)}: choose among {', '.join(JOBS)}")
    if args.skip_rating and "rating" in jobs:
        jobs.remove("rating")
    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, log=log)
    facts = common.machine_facts()
    log(
        f"scale benchmark, {facts['date']}: {customers:,} customers ({', '.join(jobs)}); load {facts['loadavg_at_start']}"
    )
    started = time.monotonic()
    previous = common.RESULTS / f"scale_{customers}.json"
    out: dict = json.loads(previous.read_text()) if previous.exists() and set(jobs) != set(JOBS) else {}
    out.update({"benchmark": "scale", "customers": customers, "machine": facts})
    import daily

    def measured(job: str, result: dict) -> None:
        """Keep a job's result at once: a run stopped later (a 10M run takes an hour) keeps what it measured."""
        out[job] = result
        out.setdefault("measured", {})[job] = facts["date"]
        common.write_results(f"scale_{customers}", out)

    daily.ensure_members()
    if "rating" in jobs:
        measured("rating", rating())
    if "daily" in jobs:
        measured("daily", daily_job())
        log(f"  daily: {json.dumps({k: v['seconds'] for k, v in out['daily'].items()})}")
    if "outbox" in jobs:
        measured("outbox", outbox())
    if "api" in jobs:
        measured("api", api_read(args.api_seconds))
    if "import" in jobs:  # last: the rolled-back month leaves dead rows behind until autovacuum
        measured("import", import_month(limit=args.import_bills))
    out["sizes"] = sizes()
    out["elapsed_seconds"] = round(time.monotonic() - started, 1)
    out["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = common.write_results(f"scale_{customers}", out)
    log(f"written {path.relative_to(common.ROOT)} ({out['elapsed_seconds']:.0f} s; {dt.datetime.now():%H:%M})")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
