"""Benchmark of the account managers' dashboard on the bench database (PostgreSQL): queries (and time) of a page for
a manager with 10 members and for one with 2,000.

    .venv/bin/python bench/dashboard.py [--small 10] [--large 2000] [--repeat 3] [--wait 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/vipclub_bench (see bench/_common.py); the script refuses
SQLite, a database with fewer than 100k customers, or one with customers that generate_bench_data did not create.
It changes nothing: everything happens in one transaction rolled back at the end. It first waits (--wait) for the
bench lock and until no other session uses the database, then refuses.

In that transaction: migrations the database lacks (an app newer than the bench data) are applied first — they are
rolled back with the rest (PostgreSQL's DDL is transactional). Then two managers (region BENCH-1) and their members, taken from the bench customers of the region
(their active assignments ended, a tier set: diamond, gold, silver in turn), one periodic-contact obligation each in
every state (overdue, due today, this week, done, later) and a membership card for every seventh, as
tests/test_dashboard.py builds them. Then, logged in as each manager (Django's test client, in this process, as
production serves it), `/dashboard/` and `/dashboard/customers/`: the SQL statements of each page (the goal: the
same number for 10 and 2,000 members, within the bound the tests pin) and the fastest of --repeat timings (info).
"""

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MIN_CUSTOMERS = 100_000
# as desk/tests/test_dashboard.py and test_queue.py pin them (every desk page: the tabs' counts and the bell)
MAX_QUERIES = {"/dashboard/": 16, "/dashboard/customers/": 16}
PAGES = tuple(MAX_QUERIES)


def log(message: str = "") -> None:
    print(message, flush=True)


class _Rollback(Exception):
    pass


def populate(*, employee_no: str, customer_ids: list[int], today: dt.date):
    from django.contrib.auth import get_user_model

    from customers.models import Region
    from managers import services as manager_services
    from managers.models import AccountManager, Assignment, MembershipCard, Obligation
    from tiers.models import CustomerTier, Tier

    region = Region.objects.get(code="BENCH-1")
    user = get_user_model().objects.create_user(username=f"bench-dash-{employee_no.lower()}")
    manager = AccountManager.objects.create(
        user=user, employee_no=employee_no, name=f"Bench dashboard {employee_no}", region=region, capacity=5000
    )
    manager_services.manager_login_role(manager=manager)  # the desk is for the account managers' role
    tiers = list(Tier.objects.filter(code__in=("diamond", "gold", "silver")).order_by("rank"))
    Assignment.objects.filter(customer_id__in=customer_ids, ended_on__isnull=True).update(
        ended_on=today - dt.timedelta(days=200), end_reason="bench"
    )
    CustomerTier.objects.bulk_create(
        [
            CustomerTier(customer_id=cid, tier=tiers[i % 3], source="score", since=dt.date(today.year, 1, 1))
            for i, cid in enumerate(customer_ids)
        ],
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["tier", "source", "since"],
    )
    Assignment.objects.bulk_create(
        Assignment(
            customer_id=cid,
            manager=manager,
            reason="new_member",
            started_on=today - dt.timedelta(days=9 if i % 10 == 0 else 150),
        )
        for i, cid in enumerate(customer_ids)
    )
    period = f"bench-{today:%Y-%m}"
    states = [
        ("overdue", today - dt.timedelta(days=5)),
        ("open", today),
        ("open", today + dt.timedelta(days=2)),
        ("done", today - dt.timedelta(days=7)),
        ("open", today + dt.timedelta(days=20)),
    ]
    done_at = dt.datetime.combine(today - dt.timedelta(days=8), dt.time(10), tzinfo=dt.UTC)
    Obligation.objects.bulk_create(
        [
            Obligation(
                customer_id=cid,
                manager=manager,
                kind="periodic_contact",
                period=period,
                opened_on=today - dt.timedelta(days=10),
                due_on=states[i % 5][1],
                status=states[i % 5][0],
                done_at=done_at if states[i % 5][0] == "done" else None,
            )
            for i, cid in enumerate(customer_ids)
        ],
        ignore_conflicts=True,
    )
    # a customer may hold a card in progress already (made by another benchmark's daily run): one is enough
    MembershipCard.objects.bulk_create(
        (MembershipCard(customer_id=cid, tier=tiers[0], state="at_maker") for cid in customer_ids[::7]),
        ignore_conflicts=True,
    )
    return user


def measure(user, *, repeat: int) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    out = {}
    for page in PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page, secure=True)
        captured = list(queries.captured_queries)  # read now: the next request clears the connection's log
        if response.status_code != 200:
            raise SystemExit(f"{page} answered {response.status_code} for {user.username}")
        times = []
        for _ in range(repeat):
            with common.Stopwatch() as watch:
                client.get(page, secure=True)
            times.append(watch.seconds)
        out[page] = {
            "queries": len(captured),
            "seconds": round(min(times), 4),
            "seconds_all": [round(t, 4) for t in times],
            "statements": [q["sql"][:200] for q in captured],
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10, help="members of the small manager (default 10)")
    parser.add_argument("--large", type=int, default=2000, help="members of the large manager (default 2,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per page; the fastest counts")
    common.add_wait_argument(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal fails")
    args = parser.parse_args(argv)

    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, log=log)
    from django.db import connection, transaction
    from django.utils import timezone

    facts = common.machine_facts()
    today = timezone.localdate()
    started = time.monotonic()
    results: dict[int, dict] = {}
    try:
        with transaction.atomic():  # never committed
            pending = common.pending_migrations()
            if pending:
                from django.core.management import call_command

                log(f"  applying {len(pending)} pending migrations in the transaction: {', '.join(pending)}")
                call_command("migrate", verbosity=0)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT c.id FROM customers_customer c JOIN customers_region r ON r.id = c.region_id "
                    "WHERE r.code = 'BENCH-1' AND c.status = 'active' ORDER BY c.id LIMIT %s",
                    [args.small + args.large],
                )
                ids = [r[0] for r in cursor.fetchall()]
            if len(ids) < args.small + args.large:
                raise SystemExit(f"only {len(ids)} active customers in BENCH-1")
            for members, chunk in ((args.small, ids[: args.small]), (args.large, ids[args.small :])):
                user = populate(employee_no=f"BENCH-DASH-{members}", customer_ids=chunk, today=today)
                results[members] = measure(user, repeat=args.repeat)
                log(
                    f"  {members:>5} members: "
                    + ", ".join(
                        f"{page} {r['queries']} queries, {r['seconds'] * 1e3:.0f} ms"
                        for page, r in results[members].items()
                    )
                )
            raise _Rollback
    except _Rollback:
        pass
    small, large = results[args.small], results[args.large]
    checks = []
    for page in PAGES:
        q_small, q_large = small[page]["queries"], large[page]["queries"]
        checks.append(
            {
                "page": page,
                "queries_small": q_small,
                "queries_large": q_large,
                "ratio": round(q_large / q_small, 2),
                "bound": MAX_QUERIES[page],
                "passed": q_large == q_small and q_large <= MAX_QUERIES[page],
                "seconds_small": small[page]["seconds"],
                "seconds_large": large[page]["seconds"],
            }
        )
    passed = all(c["passed"] for c in checks)
    out = {
        "benchmark": "dashboard",
        "machine": facts,
        "settings": vars(args),
        "data": {"customers": customers, "today": today, "migrations_applied_in_transaction": pending},
        "pages": {str(k): v for k, v in results.items()},
        "checks": checks,
        "goal": {
            "goal": "the same number of queries for 10 and 2,000 members, within the tests' bound",
            "passed": passed,
        },
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }
    log()
    log(
        common.table(
            [
                [
                    c["page"],
                    c["queries_small"],
                    c["queries_large"],
                    c["bound"],
                    f"{c['seconds_small'] * 1e3:.0f}",
                    f"{c['seconds_large'] * 1e3:.0f}",
                    "PASS" if c["passed"] else "FAIL",
                ]
                for c in checks
            ],
            [
                "page",
                f"queries, {args.small}",
                f"queries, {args.large:,}",
                "bound",
                f"ms, {args.small}",
                f"ms, {args.large:,}",
                "constant",
            ],
        )
    )
    path = common.write_results("dashboard", out)
    log(f"\nwritten {path.relative_to(common.ROOT)} ({out['elapsed_seconds']:.0f} s in all)")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(common.run(main))
