"""Profiles (pyinstrument) of the API customer read and the bill import, on the bench database — not a benchmark
(`make bench` leaves the _helpers out). What issue 20 asks to look at before changing anything.

    .venv/bin/python bench/_profile.py api [--requests 2000]     # GET /api/v1/customers/{msisdn}/ in-process
    .venv/bin/python bench/_profile.py import [--rows 100000]    # workflows.bills_import + import_bills, rolled back
    .venv/bin/python bench/_profile.py earn [--customers 50000]  # points earning, statement by statement

`api` sends the requests through Django's WSGI handler in this process (the middleware, DRF, the view, the
serializer: what a gunicorn worker runs per request, without the socket), with production settings (DEBUG off,
throttling as configured by the environment). `import` runs the service and the CSV command on new bills in a
transaction rolled back at the end. Both print pyinstrument's call tree (--html FILE writes the HTML report).
`earn` times every SQL statement of the points earning (points.engine.earn, the production path's chunk) over all
bills of --customers customers from the middle of the id range on empty points tables, then the bare insert of the
same ledger rows into an index-free table (bench/points.py's baseline), in one transaction rolled back.
For the profile of a live gunicorn worker under bench/api.py's load: `py-spy record -p PID` (a dev dependency).
"""

import argparse
import csv
import datetime as dt
import os
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402


def profile_api(args) -> None:
    import api as api_bench
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory
    from pyinstrument import Profiler

    msisdns = api_bench.sample_msisdns(500)
    token, who = api_bench.api_client_token()
    handler = WSGIHandler()  # what gunicorn calls per request
    factory = RequestFactory(HTTP_AUTHORIZATION=f"Token {token}", SERVER_NAME="127.0.0.1")
    answers: list[str] = []

    def get(msisdn: str) -> None:
        environ = factory._base_environ(PATH_INFO=f"/api/v1/customers/{msisdn}/", REQUEST_METHOD="GET")
        body = b"".join(handler(environ, lambda status, headers, exc_info=None: answers.append(status)))
        assert answers.pop().startswith("200"), body

    try:
        for m in msisdns[:50]:  # warm-up: imports, the connection, caches
            get(m)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for n in range(args.requests):
            get(msisdns[n % len(msisdns)])
        profiler.stop()
    finally:
        api_bench.delete_api_client()
    print(f"{args.requests} reads as {who}")
    report(profiler, args)


def profile_import(args) -> None:
    import bills_import as import_bench
    from django.core.management import call_command
    from django.db import transaction
    from pyinstrument import Profiler

    from vipclub import workflows

    rows, month = import_bench.load_rows(args.rows)
    print(f"{len(rows):,} new bills of {month:%Y-%m}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bills.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["msisdn", "month", "amount", "paid"])
            for r in rows:
                writer.writerow([r["msisdn"], f"{r['month']:%Y-%m}", r["amount"], "true"])
        for what in ("service", "command"):
            profiler = Profiler(interval=0.001)
            try:
                with transaction.atomic():
                    profiler.start()
                    if what == "service":
                        workflows.bills_import(rows=import_bench._clean(rows), on=dt.date.today())
                    else:
                        call_command("import_bills", str(path), stdout=open(os.devnull, "w"))
                    profiler.stop()
                    raise import_bench._Rollback
            except import_bench._Rollback:
                pass
            print(f"== {what}")
            report(profiler, args, suffix=what)


def profile_earn(args) -> None:
    import importlib.util
    import time

    from django.db import connection, transaction

    from points import engine, rules, selectors
    from points.services import points_policy

    # bench/points.py by its path: the name `points` is the application's
    spec = importlib.util.spec_from_file_location("points_bench", Path(__file__).with_name("points.py"))
    points_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(points_bench)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM points_pointsentry")
        if cursor.fetchone()[0]:
            raise SystemExit("the points ledger is not empty: run bench/points.py (it empties it) or empty it first")
        cursor.execute("SELECT min(id), max(id) FROM customers_customer")
        lo, hi = cursor.fetchone()
        cursor.execute("SELECT max(month) FROM customers_monthlybill")
        last = cursor.fetchone()[0]
    lo = lo + (hi - lo - args.customers) // 2
    hi = lo + args.customers - 1
    on = dt.date(last.year, last.month, 1) + dt.timedelta(days=45)
    timer = common.StatementTimer()

    policy = points_policy()
    with transaction.atomic():
        t0 = time.perf_counter()
        with connection.execute_wrapper(timer):
            result = engine.earn(
                on=on, expiry_years=policy.expiry_years, rewards=selectors.reward_rules(), lo=lo, hi=hi, actor="bench"
            )
        total = time.perf_counter() - t0
        transaction.set_rollback(True)
    print(f"earning of customers {lo}…{hi} on {on}: {result.bills:,} bills, {result.points:,} points in {total:.2f} s")
    for key, (seconds, calls, rows) in timer.totals().items():
        print(f"  {seconds:7.3f} s  {seconds / total:5.1%}  ×{calls} rows {rows:>9,}  {key}")
    since = dt.date(rules.first_live_year(on, policy.expiry_years), 1, 1)
    bare = points_bench.bare_write(since, customers=(lo, hi))
    print(
        f"bare insert of the same ledger rows (no index, no constraint): {bare['seconds']:.2f} s, "
        f"{bare['rows']:,} rows: earning ÷ bare = {total / bare['seconds']:.2f} ×"
    )


def report(profiler, args, suffix: str = "") -> None:
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        html = Path(args.html)
        if suffix:
            html = html.with_name(f"{html.stem}-{suffix}{html.suffix}")
        html.write_text(profiler.output_html())
        print(f"written {html}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("api", "import", "earn"))
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    common.add_wait_argument(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    common.open_bench_database(min_customers=100_000, wait=args.wait)
    {"api": profile_api, "import": profile_import, "earn": profile_earn}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))
