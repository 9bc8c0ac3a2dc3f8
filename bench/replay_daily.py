"""The dated replay of the account managers' daily job (issue 15): `run_daily --date D` for every day of a span on a
fresh demo club, then what it opened, per kind, and the check that nothing was born overdue.

    .venv/bin/python bench/replay_daily.py [--from 2026-12-01] [--to 2027-12-31] [--customers 300] [--seed 7]

Not a benchmark (`make bench` leaves it out) and not a unit test (it takes minutes): a check of the calendar rules
over a year the working-day package does not know. DATABASE_URL: the database to use (PostgreSQL: it is DROPPED
and created again; not `vipclub` nor `vipclub_bench`); unset: a SQLite file var/replay_daily.sqlite3, recreated.
The club is seeded with `seed_demo --customers N --as-of FROM --seed S`, then `run_daily --date D` runs for every
day from FROM to TO. Checks (exit status 1 when one fails):
  - greetings for the four festivals of every year in the span and for the next year's New Year, for every group
    key person (members by their manager, the others by their group's account manager);
  - no obligation born overdue: due_on < opened_on never holds (the whole table, the seed's included).
Writes bench/results/replay_daily.json with the figures.
"""

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _recreate_postgres(url: str) -> None:
    """Drop and create the PostgreSQL database of `url` (the seeded catalogs come from data migrations: a flush
    would lose them)."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    name = config["NAME"]
    if name in ("vipclub", "vipclub_bench", "postgres"):
        sys.exit(f"refused: the replay drops its database; give it its own (not {name!r})")
    maintenance = psycopg.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        autocommit=True,
    )
    with maintenance:
        maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        maintenance.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=dt.date(2026, 12, 1))
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=dt.date(2027, 12, 31))
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        path = ROOT / "var" / "replay_daily.sqlite3"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        _recreate_postgres(os.environ["DATABASE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count, F

    from customers.models import KeyPerson
    from managers.calendar import greeting_festivals
    from managers.models import Assignment, Obligation

    quiet = io.StringIO()
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    call_command("seed_demo", customers=args.customers, on=args.first, seed=args.seed, stdout=quiet)
    seeded = time.monotonic() - started
    before = set(Obligation.objects.values_list("id", flat=True))

    started, day, days = time.monotonic(), args.first, 0
    while day <= args.last:
        call_command("run_daily", date=day.isoformat(), stdout=quiet)
        day += dt.timedelta(days=1)
        days += 1
    replayed = time.monotonic() - started

    opened = Obligation.objects.exclude(id__in=before)
    per_kind = dict(opened.values_list("kind").annotate(n=Count("id")).order_by("kind"))
    born_overdue = Obligation.objects.filter(due_on__lt=F("opened_on")).count()
    greetings = dict(
        Obligation.objects.filter(kind="holiday_greeting").values_list("period").annotate(n=Count("id")).order_by()
    )
    expected_periods = [
        f"{year}-{key}"
        for year in range(args.first.year, args.last.year + 1)
        for key, date in greeting_festivals(year).items()
        if args.first + dt.timedelta(days=14) <= date <= args.last + dt.timedelta(days=14)
    ] + [f"{args.last.year + 1}-new_year"]
    key_persons = KeyPerson.objects.exclude(customer__status="closed").values("customer_id").distinct().count()
    served = Assignment.objects.filter(ended_on__isnull=True).values("customer_id")
    outsiders = (
        KeyPerson.objects.exclude(customer__status="closed")
        .exclude(customer_id__in=served)
        .values("customer_id")
        .distinct()
        .count()
    )
    missing = [p for p in expected_periods if greetings.get(p, 0) == 0]
    figures = {
        "from": args.first.isoformat(),
        "to": args.last.isoformat(),
        "days": days,
        "customers": args.customers,
        "database": "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else "sqlite",
        "seconds": {"seed": round(seeded, 1), "replay": round(replayed, 1)},
        "opened_per_kind": per_kind,
        "opened_total": sum(per_kind.values()),
        "greetings_per_festival": {p: greetings.get(p, 0) for p in expected_periods},
        "key_persons": key_persons,
        "key_persons_without_a_manager_of_their_own": outsiders,
        "born_overdue": born_overdue,
        "missing_festivals": missing,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "replay_daily.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(
        f"run_daily --date {args.first} … {args.last}: {days} days on {args.customers} customers "
        f"({figures['database']}), {replayed:.0f} s"
    )
    print("obligations opened per kind:")
    for kind, n in per_kind.items():
        print(f"  {kind:<22} {n:>7,}")
    print(f"greetings per festival ({key_persons} key persons, {outsiders} without a manager of their own):")
    for period, n in figures["greetings_per_festival"].items():
        print(f"  {period:<22} {n:>7,}")
    print(f"overdue at birth: {born_overdue}")
    ok = not missing and born_overdue == 0
    print("OK" if ok else f"FAILED: missing festivals {missing}, born overdue {born_overdue}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
