"""Benchmark of the bill import on the bench database (PostgreSQL): the import path against a raw COPY of the same
rows.

    .venv/bin/python bench/bills_import.py [--rows 100000] [--repeat 3] [--wait 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/vipclub_bench (see bench/_common.py); the script
refuses SQLite, a database with fewer than 100k customers, or one with customers that generate_bench_data did not
create. It changes nothing: everything happens in one transaction that is rolled back at the end (and by PostgreSQL
if the script dies), each measurement in a savepoint rolled back after it, so each starts from the same state.
It first waits (--wait) for the bench lock and until no other session uses the database, then refuses.

The rows: --rows customers (a contiguous id range from the middle of the table; default 100,000: a month's API push
of ten bulk requests, or one CSV file), one new bill each for the month after the last billed month (or, while that month has not ended,
the month before the first), the amount of the customer's last bill, paid. Measured, each --repeat times (the fastest counts):
  (c) a raw COPY of the rows (customer_id, month, amount, paid, updated_at) into customers_monthlybill, with its
      indexes and constraints: the floor of storing them;
  (u) the bills alone, customers.services.bills_bulk_upsert(rows=…): the same rows, batched INSERT … ON CONFLICT
      (info: the part of (s) that stores what (c) stores);
  (s) the service, vipclub.workflows.bills_import(rows=…) on validated rows, as POST /bills/bulk/ calls it: the
      bills upserted (ON CONFLICT) and their points earned (accounts, lots, ledger entries);
  (i) the command, manage.py import_bills FILE.csv: CSV parsing, per-row validation, the msisdn lookup, the service.
And the small push (billing's corrections, the load test's request): --small pushes of 10 of those bills each through
the service (p) against a plain 10-row INSERT of the same bills (q), each in its own savepoint; medians in ms.
Goals (issue 20): (s) <= 3 x (c) (the service writes the points ledger besides the bills: ~3 rows per bill), (i) <= 2 x
(c).
"""

import argparse
import csv
import datetime as dt
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MIN_CUSTOMERS = 100_000
GOAL = 3.0  # issue 20: the service (bills + points) <= 3 x COPY for a 100k-bill push
COMMAND_GOAL = 2.0  # … and the CSV command <= 2 x COPY
NOISY = 0.10


def log(message: str = "") -> None:
    print(message, flush=True)


class _Rollback(Exception):
    pass


def load_rows(n: int) -> tuple[list[dict], object]:
    """n customers from the middle of the id range with their last bill's amount; the month after the last, or,
    while that month has not ended (bills are accepted only for ended months), the month before the first."""
    from django.db import connection
    from django.utils import timezone

    from core import dates

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(month), max(month) FROM customers_monthlybill")
        first, last = cursor.fetchone()
        cursor.execute("SELECT min(id), max(id) FROM customers_customer")
        lo, hi = cursor.fetchone()
        start = lo + (hi - lo - n) // 2
        cursor.execute(
            """SELECT c.id, c.msisdn, b.amount FROM customers_customer c
               JOIN customers_monthlybill b ON b.customer_id = c.id AND b.month = %s
               WHERE c.id >= %s ORDER BY c.id LIMIT %s""",
            [last, start, n],
        )
        found = cursor.fetchall()
    month = dates.add_months(last, 1)
    if dates.add_months(month, 1) > timezone.localdate():
        month = dates.add_months(first, -1)
    return [
        {"customer_id": cid, "msisdn": msisdn, "month": month, "amount": amount, "paid": True}
        for cid, msisdn, amount in found
    ], month


def in_savepoint(work) -> tuple[float, object, dict]:
    """Run `work` in a savepoint that is rolled back; (seconds, its result, the others' CPU)."""
    from django.db import connection, transaction

    result = None
    with common.OtherLoad(connection.settings_dict["NAME"]) as other:
        try:
            with transaction.atomic():
                with common.Stopwatch() as watch:
                    result = work()
                raise _Rollback
        except _Rollback:
            pass
    return watch.seconds, result, other.as_dict()


def copy_rows(rows: list[dict]) -> int:
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().isoformat()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in rows:
        writer.writerow([r["customer_id"], r["month"].isoformat(), r["amount"], "t", now])
    buffer.seek(0)
    with connection.cursor() as cursor:
        sql = "COPY customers_monthlybill (customer_id, month, amount, paid, updated_at) FROM STDIN WITH (FORMAT csv)"
        with cursor.cursor.copy(sql) as copy:  # psycopg 3
            copy.write(buffer.getvalue())
        return cursor.cursor.rowcount


def _clean(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in ("customer_id", "month", "amount", "paid")} for r in rows]


def upsert(rows: list[dict]) -> dict:
    from customers import services

    result = services.bills_bulk_upsert(rows=_clean(rows))
    return {"created": result.created, "updated": result.updated}


def service(rows: list[dict]) -> dict:
    from vipclub import workflows

    result = workflows.bills_import(rows=_clean(rows), on=dt.date.today())
    return {"created": result.created, "updated": result.updated}


def insert_rows(rows: list[dict]) -> int:
    from django.db import connection
    from django.utils import timezone

    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    params = [v for r in rows for v in (r["customer_id"], r["month"], r["amount"], True, timezone.now())]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO customers_monthlybill (customer_id, month, amount, paid, updated_at) VALUES {values}", params
        )
        return cursor.rowcount


def small_pushes(rows: list[dict], n: int) -> dict:
    """n pushes of 10 bills (distinct customers each) through the service and as a plain INSERT; medians in ms."""
    import statistics

    timed: dict[str, list[float]] = {"service": [], "insert": []}
    for k in range(n):
        push = rows[10 * k : 10 * k + 10]
        for key, work in (("service", service), ("insert", insert_rows)):
            seconds, _, _ = in_savepoint(lambda work=work, push=push: work(push))
            timed[key].append(seconds * 1000)
    p, q = statistics.median(timed["service"]), statistics.median(timed["insert"])
    return {"pushes": n, "service_ms": round(p, 1), "insert_ms": round(q, 2), "ratio": round(p / q, 1)}


def command(path: Path) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("import_bills", str(path), stdout=out)
    return out.getvalue().strip()


def points_written() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM points_pointsentry), (SELECT count(*) FROM points_pointslot), "
            "(SELECT count(*) FROM points_pointsaccount)"
        )
        entries, lots, accounts = cursor.fetchone()
    return {"entries": entries, "lots": lots, "accounts": accounts}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="bills imported (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path; the fastest counts")
    common.add_wait_argument(parser)
    parser.add_argument("--small", type=int, default=20, help="10-bill pushes measured (default 20)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal fails")
    args = parser.parse_args(argv)

    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, log=log)
    from django.db import transaction

    facts = common.machine_facts()
    rows, month = load_rows(args.rows)
    log(
        f"bills import benchmark, {facts['date']}: {customers:,} customers; {len(rows):,} new bills of "
        f"{month:%Y-%m}, best of {args.repeat}; load {facts['loadavg_at_start']}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "bills.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["msisdn", "month", "amount", "paid"])
            for r in rows:
                writer.writerow([r["msisdn"], f"{r['month']:%Y-%m}", r["amount"], "true"])
        measured: dict[str, list[dict]] = {"copy": [], "upsert": [], "service": [], "command": []}
        started = time.monotonic()
        try:
            with transaction.atomic():  # never committed: the bench data stays as it was
                before = points_written()
                for n in range(args.repeat):
                    for key, work in (
                        ("copy", lambda: copy_rows(rows)),
                        ("upsert", lambda: upsert(rows)),
                        ("service", lambda: service(rows)),
                        ("command", lambda: command(csv_path)),
                    ):
                        seconds, result, other = in_savepoint(work)
                        measured[key].append({"seconds": round(seconds, 3), "result": result, **other})
                        log(
                            f"  #{n + 1} {key:8} {seconds:7.3f} s  {result}; others used {other['other_cpu_seconds']}"
                            f" CPU s ({other['other_cpu_share']:.0%})"
                        )
                small = small_pushes(rows, args.small)
                after = points_written()
                raise _Rollback
        except _Rollback:
            pass
    if after != before:
        raise SystemExit(f"points tables changed outside the savepoints: {before} -> {after}")
    best = {k: min(v, key=lambda m: m["seconds"]) for k, v in measured.items()}
    c, u, s, i = (best[k]["seconds"] for k in ("copy", "upsert", "service", "command"))
    out = {
        "benchmark": "bills_import",
        "machine": facts,
        "settings": {"rows": args.rows, "repeat": args.repeat},
        "data": {"customers": customers, "rows": len(rows), "month": month},
        "measured": measured,
        "best": best,
        "ratios": {
            "upsert_over_copy": round(u / c, 2),
            "service_over_copy": round(s / c, 2),
            "command_over_copy": round(i / c, 2),
        },
        "goal": {"goal": f"(s) service <= {GOAL:g} x (c) COPY", "value": round(s / c, 2), "passed": s / c <= GOAL},
        "command_goal": {
            "goal": f"(i) command <= {COMMAND_GOAL:g} x (c) COPY",
            "value": round(i / c, 2),
            "passed": i / c <= COMMAND_GOAL,
        },
        "small": small,
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }

    def mark(x: dict) -> str:
        return "*" if x.get("other_cpu_share", 0) > NOISY else ""

    table = [
        ["(c) raw COPY into customers_monthlybill", f"{c:.3f}{mark(best['copy'])}", f"{len(rows) / c:,.0f}", "1.00"],
        [
            "(u) bills_bulk_upsert (the bills alone)",
            f"{u:.3f}{mark(best['upsert'])}",
            f"{len(rows) / u:,.0f}",
            f"{u / c:.2f}",
        ],
        [
            "(s) workflows.bills_import (bills + points)",
            f"{s:.3f}{mark(best['service'])}",
            f"{len(rows) / s:,.0f}",
            f"{s / c:.2f}",
        ],
        [
            "(i) manage.py import_bills FILE.csv",
            f"{i:.3f}{mark(best['command'])}",
            f"{len(rows) / i:,.0f}",
            f"{i / c:.2f}",
        ],
    ]
    log()
    log(common.table(table, ["path", "seconds", "bills/s", "x (c)"]))
    log(f"  * = other processes used more than {NOISY:.0%} of the cores meanwhile")
    log(
        f"small push of 10 bills, median of {args.small}: (p) service {small['service_ms']} ms, "
        f"(q) plain INSERT {small['insert_ms']} ms ({small['ratio']} x)"
    )
    for goal in (out["goal"], out["command_goal"]):
        log(f"goal {goal['goal']}: {goal['value']} -> {'PASS' if goal['passed'] else 'FAIL'}")
    path = common.write_results("bills_import", out)
    log(f"written {path.relative_to(common.ROOT)} ({out['elapsed_seconds']:.0f} s in all)")
    return 1 if args.strict and not (out["goal"]["passed"] and out["command_goal"]["passed"]) else 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")
    sys.exit(common.run(main))
