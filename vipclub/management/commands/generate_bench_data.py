"""Load benchmark data: N customers and N × months bills, set-based.

On PostgreSQL everything is generated inside the server (`INSERT … SELECT` from `generate_series`) in one
transaction, with the secondary indexes and constraints of the bulk tables dropped around the load and rebuilt
from their own definitions afterwards, then VACUUM ANALYZE. Amounts are deterministic pseudo-random numbers
(hashes of the ids): a log-normal spread of monthly spend so that every tier occurs. Other databases (SQLite)
get the same shape of data through `bulk_create` in batches.
"""

import contextlib
import datetime as dt
import math
import random
import time
from decimal import Decimal

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import SET_NULL, Sum
from django.db.models.functions import Floor

from core import bounds, dates
from core.models import OutboxEvent
from customers import rules
from customers import services as customer_services
from customers.models import Customer, MonthlyBill, PlanPeriod, StatusChange
from points import services as points_services
from tiers.models import RatingRun
from vipclub import demo

# (code, name, province, ID-number area code)
BENCH_REGIONS = (
    ("BENCH-1", "基准一区", "基准省甲", "440106"),
    ("BENCH-2", "基准二区", "基准省甲", "440304"),
    ("BENCH-3", "基准三区", "基准省甲", "440604"),
    ("BENCH-4", "基准四区", "基准省乙", "330106"),
    ("BENCH-5", "基准五区", "基准省乙", "330203"),
)
BENCH_MSISDN_PREFIX = "199"  # 19900000001 …: outside the demo club's number ranges
MAX_CUSTOMERS = 10**8 - 1
# Monthly spend: log-normal with this median (yuan) and sigma of its log; each bill varies around the level.
SPEND_MEDIAN, SPEND_SIGMA, BILL_SIGMA = 55.0, 0.9, 0.2
GIVEN_NAMES = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "建华",
)
PLANS = ("58", "88", "128", "158", "188")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Tables loaded in bulk: their secondary indexes and constraints are dropped and rebuilt around the load.
BULK_TABLES = ("customers_customer", "customers_planperiod", "customers_statuschange", "customers_monthlybill")

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.bench_u(n bigint, salt bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8extended(n, salt) & 9007199254740991)::float8 / 9007199254740992.0 $$;
CREATE OR REPLACE FUNCTION pg_temp.bench_z(n bigint, salt bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT sqrt(-2.0 * ln(1.0 - pg_temp.bench_u(n, salt)))
                 * cos(2.0 * pi() * pg_temp.bench_u(n, salt + 7919)) $$;
"""

# One customer per g; u1… are independent uniforms of g. %(…)s are parameters.
PG_CUSTOMERS = """
INSERT INTO customers_customer (
    id, msisdn, name, id_number, birthday, join_date, brand, product_type, plan_code, plan_started_on,
    region_id, landline, status, suspension_kind, closure_kind, status_changed_at, created_at, updated_at)
SELECT g, msisdn, name,
       first17 || substr('10X98765432', 1 + (
           SELECT sum(substr(first17, i::int, 1)::int * w) FROM unnest(%(weights)s::int[]) WITH ORDINALITY AS t(w, i)
       )::int %% 11, 1),
       birthday, join_date, brand, product_type, plan_code, join_date, region_id, '', status,
       CASE WHEN status = 'suspended' THEN 'arrears' ELSE '' END, '',
       CASE WHEN status = 'suspended' THEN %(on_start)s - make_interval(days => 1 + floor(u10 * 60)::int) END,
       now(), now()
FROM (
    SELECT g, %(prefix)s || lpad(g::text, 8, '0') AS msisdn,
           (%(surnames)s::text[])[1 + floor(u1 * %(n_surnames)s)::int]
               || (%(given)s::text[])[1 + floor(u2 * %(n_given)s)::int] AS name,
           (%(areas)s::text[])[1 + g %% %(n_regions)s] || to_char(birthday, 'YYYYMMDD')
               || lpad((g %% 1000)::text, 3, '0') AS first17,
           birthday,
           greatest(%(on)s - %(min_tenure)s - floor(u4 * 7000)::int, (birthday + interval '18 years')::date)
               AS join_date,
           CASE WHEN u5 < 0.7 THEN 'gotone' WHEN u5 < 0.9 THEN 'mzone' ELSE 'easyown' END AS brand,
           CASE WHEN u6 < 0.9 THEN 'primary' WHEN u6 < 0.95 THEN 'data_card'
                WHEN u6 < 0.98 THEN 'secondary' ELSE 'iot' END AS product_type,
           CASE WHEN u7 < 0.02 THEN '288' WHEN u7 < 0.03 THEN '388' WHEN u7 < 0.035 THEN '588'
                ELSE (%(plans)s::text[])[1 + floor(u8 * %(n_plans)s)::int] END AS plan_code,
           (%(region_ids)s::bigint[])[1 + g %% %(n_regions)s] AS region_id,
           CASE WHEN u9 < 0.01 THEN 'suspended' ELSE 'active' END AS status,
           u10
    FROM (
        SELECT g,
               pg_temp.bench_u(g, %(seed)s * 100 + 1) AS u1, pg_temp.bench_u(g, %(seed)s * 100 + 2) AS u2,
               date '1950-01-01' + floor(pg_temp.bench_u(g, %(seed)s * 100 + 3) * 18262)::int AS birthday,
               pg_temp.bench_u(g, %(seed)s * 100 + 4) AS u4, pg_temp.bench_u(g, %(seed)s * 100 + 5) AS u5,
               pg_temp.bench_u(g, %(seed)s * 100 + 6) AS u6, pg_temp.bench_u(g, %(seed)s * 100 + 7) AS u7,
               pg_temp.bench_u(g, %(seed)s * 100 + 8) AS u8, pg_temp.bench_u(g, %(seed)s * 100 + 9) AS u9,
               pg_temp.bench_u(g, %(seed)s * 100 + 11) AS u10
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
    ) AS draws
) AS c
"""

# `months` bills per customer, customer-major (the physical order of the unique key): one series over
# (customer, month) pairs, g = id × months + month index.
PG_BILLS = """
INSERT INTO customers_monthlybill (customer_id, month, amount, paid, updated_at)
SELECT id, (%(first_month)s::date + make_interval(months => m))::date,
       round((exp(ln(%(median)s) + %(sigma)s * pg_temp.bench_z(id, %(seed)s * 100 + 10))
              * exp(%(bill_sigma)s * pg_temp.bench_z(id * 1000 + m, %(seed)s * 100 + 20)))::numeric, 2),
       pg_temp.bench_u(id * 1000 + m, %(seed)s * 100 + 30) < CASE WHEN m = %(last)s THEN 0.9 ELSE 0.985 END,
       now()
FROM generate_series(%(lo)s::bigint * %(months)s, (%(hi)s::bigint + 1) * %(months)s - 1) AS g
CROSS JOIN LATERAL (SELECT g / %(months)s AS id, (g %% %(months)s)::int AS m) AS pair
"""

PG_TIER_SPREAD = """
SELECT count(*) FILTER (WHERE score >= 4000), count(*) FILTER (WHERE score >= 2000 AND score < 4000),
       count(*) FILTER (WHERE score >= 1000 AND score < 2000), count(*) FILTER (WHERE score < 1000)
FROM (
    SELECT s.points + CASE WHEN y >= 10 THEN 300 WHEN y >= 3 THEN 200 WHEN y >= 1 THEN 100 ELSE 0 END AS score
    FROM (SELECT customer_id, sum(floor(amount)) AS points FROM customers_monthlybill
          WHERE month >= %(since)s AND month < %(until)s GROUP BY customer_id) AS s
    JOIN customers_customer c ON c.id = s.customer_id
    CROSS JOIN LATERAL extract(year FROM age(%(until)s, c.join_date)) AS y
    WHERE c.product_type = 'primary'
) AS scored
"""


def _date(value: str) -> dt.date:
    try:
        return bounds.parse_date(value)
    except bounds.BoundsError as exc:
        raise CommandError(str(exc)) from exc


def _tenure_bonus(join_date: dt.date, on: dt.date) -> int:
    years = dates.full_years(join_date, on)
    return 300 if years >= 10 else 200 if years >= 3 else 100 if years >= 1 else 0


def wipe_plan() -> tuple[list, list, set]:
    """What --wipe empties: customers and bills with every table that refers to them, directly or through another
    emptied table, with a database foreign key or without (the rating engine's and the points ledger's have none);
    the rating runs (their chunks and changes counted the wiped customers, and a month's run would answer the next
    rating of that month); the outbox (the wiped customers' events). A row that points at an emptied one only
    through an `on_delete=SET_NULL` key stays, the key unset (a policy change keeps its edit, not its what-if runs).

    Returns (the models to empty, the (model, field) keys to unset, the emptied models such keys point at with a
    database foreign key: PostgreSQL cannot TRUNCATE those, they are deleted)."""
    emptied = {Customer, MonthlyBill, RatingRun, OutboxEvent}
    models = [m for m in apps.get_models(include_auto_created=True) if not m._meta.proxy]

    def keys(model):
        return [f for f in model._meta.concrete_fields if f.is_relation and f.related_model in emptied]

    grown = True
    while grown:
        grown = False
        for model in models:
            if model not in emptied and any(f.remote_field.on_delete is not SET_NULL for f in keys(model)):
                emptied.add(model)
                grown = True
    unset = [(model, field) for model in models if model not in emptied for field in keys(model)]
    pointed = {field.related_model for _model, field in unset if field.db_constraint}
    return sorted(emptied, key=lambda m: m._meta.db_table), unset, pointed


class Command(BaseCommand):
    help = (
        "Load N customers and N × months bills for benchmarks (msisdns 199…, regions BENCH-*, billing months "
        "closed). Refuses when customers exist unless --wipe, which empties customers and bills, every table that "
        "refers to them, the rating runs and the outbox first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True, help="how many customers")
        parser.add_argument("--months", type=int, default=12, help="months of bills per customer (default 12)")
        parser.add_argument(
            "--wipe",
            action="store_true",
            help="delete all customers and bills, what refers to them, the rating runs and the outbox first",
        )
        parser.add_argument(
            "--date",
            "--as-of",
            dest="on",
            type=_date,
            help="YYYY-MM-DD; bills for the months before it (default today)",
        )
        parser.add_argument("--seed", type=int, default=0, help="varies the pseudo-random data (default 0)")

    def handle(self, *args, customers, months, wipe, on, seed, **options):
        if not 1 <= customers <= MAX_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {MAX_CUSTOMERS}.")
        if not 1 <= months <= 240:
            raise CommandError("--months must be between 1 and 240.")
        if not 0 <= seed <= 10**6:
            raise CommandError("--seed must be between 0 and 1000000.")
        existing = Customer.objects.count()
        if existing and not wipe:
            raise CommandError(
                f"The database already holds {existing} customers: refusing to add benchmark data. "
                "Use --wipe to delete all customers and bills first."
            )
        self.on = on or demo.club_today()
        this_month = self.on.replace(day=1)
        self.months = [dates.add_months(this_month, -n) for n in range(months, 0, -1)]
        self.phases: list[tuple[str, float]] = []
        started = time.monotonic()
        self.stdout.write(
            f"Generating {customers:,} customers and {customers * months:,} bills "
            f"({dates.month_str(self.months[0])} to {dates.month_str(self.months[-1])}) on {connection.vendor}…"
        )
        if connection.vendor == "postgresql":
            self._load_postgresql(customers, months, wipe, seed)
        else:
            self._load_orm(customers, wipe, seed)
        with self._phase("tier spread"):
            self._tier_spread()
        if connection.vendor == "postgresql":
            # the monthly pipeline stores every customer's credit stars: a club's profile reads find them stored
            # (never rated: computed on demand per read), so the bench data holds them too (issue 20)
            with self._phase("credit stars"):
                points_services.credit_ratings_compute(on=self.on, actor="generate_bench_data", force=True)
        total = time.monotonic() - started
        self.stdout.write("Phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases))
        self.stdout.write(self.style.SUCCESS(f"Done in {total:.1f} s."))

    @contextlib.contextmanager
    def _phase(self, name: str):
        self.stdout.write(f"- {name}…")
        self.stdout.flush()
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        self.phases.append((name, elapsed))
        self.stdout.write(f"  {name}: {elapsed:.1f} s")

    def _progress(self, label: str, done: int, total: int, started: float) -> None:
        self.stdout.write(f"  {label}: {done:,} / {total:,} ({time.monotonic() - started:.1f} s)")
        self.stdout.flush()

    def _regions(self) -> list[int]:
        return [
            customer_services.region_upsert(code=code, name=name, province=province)[0].pk
            for code, name, province, _ in BENCH_REGIONS
        ]

    # PostgreSQL ------------------------------------------------------------------------------------------------

    def _load_postgresql(self, customers: int, months: int, wipe: bool, seed: int) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending deferred checks block the DDL below
            if wipe:
                with self._phase("wipe"):
                    self._wipe_postgresql(cursor)
            with self._phase("drop indexes and constraints"):
                rebuild = self._drop_secondary(cursor)
            with self._phase("regions"):
                region_ids = self._regions()
            cursor.execute(PG_FUNCTIONS)
            self._pg_customers(cursor, customers, region_ids, seed)
            with self._phase("plan periods and status changes"):
                cursor.execute(
                    "INSERT INTO customers_planperiod (customer_id, plan_code, started_on) "
                    "SELECT id, plan_code, plan_started_on FROM customers_customer WHERE plan_code <> ''"
                )
                cursor.execute(
                    "INSERT INTO customers_statuschange (customer_id, from_status, to_status, kind, occurred_at, source) "
                    "SELECT id, 'active', 'suspended', suspension_kind, status_changed_at, 'generate_bench_data' "
                    "FROM customers_customer WHERE status = 'suspended'"
                )
            self._pg_bills(cursor, customers, months, seed)
            with self._phase("billing months"):
                demo.billing_months_close(self.months, as_of=self.on)
            with self._phase("rebuild indexes and constraints"):
                for label, sql in rebuild:
                    statement_started = time.monotonic()
                    cursor.execute(sql)
                    self.stdout.write(f"  {label}: {time.monotonic() - statement_started:.1f} s")
                for table in BULK_TABLES:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
            commit_started = time.monotonic()
        self.phases.append(("commit", time.monotonic() - commit_started))
        self.stdout.write(f"  commit: {self.phases[-1][1]:.1f} s")
        tables = ", ".join(BULK_TABLES)
        with self._phase("vacuum analyze"), connection.cursor() as cursor:
            # VACUUM cannot run in a transaction (a test's): ANALYZE alone then.
            cursor.execute(f"ANALYZE {tables}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {tables}")

    def _wipe_postgresql(self, cursor) -> None:
        """wipe_plan() in a few statements: the SET_NULL keys unset, one TRUNCATE (ids restart) but for the outbox
        (its ids go on: the feed's and the webhooks' cursors stay valid) and the tables those keys point at (a
        TRUNCATE would cascade to the rows that stay), which are deleted."""
        emptied, unset, pointed = wipe_plan()
        quote = connection.ops.quote_name
        for model, field in unset:
            table, column = quote(model._meta.db_table), quote(field.column)
            cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IS NOT NULL")
        truncated = [m._meta.db_table for m in emptied if m not in pointed and m is not OutboxEvent]
        cursor.execute(f"TRUNCATE {', '.join(map(quote, truncated))} RESTART IDENTITY")
        cursor.execute(f"TRUNCATE {quote(OutboxEvent._meta.db_table)} CONTINUE IDENTITY")
        for model in sorted(pointed, key=lambda m: m._meta.db_table):
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")
        self.stdout.write(f"  emptied {len(emptied)} tables: {', '.join(m._meta.db_table for m in emptied)}")

    def _drop_secondary(self, cursor) -> list[tuple[str, str]]:
        """Drop every constraint but the primary key, and every index not backing a constraint, of the bulk
        tables; return the statements that rebuild them, indexes and unique keys first, foreign keys last."""
        indexes, uniques, checks, foreign = [], [], {}, []
        for table in BULK_TABLES:
            cursor.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'c', 'f', 'x') ORDER BY conname",
                [table],
            )
            for name, kind, definition in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                statement = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                if kind == "c":
                    checks.setdefault(table, []).append(f'ADD CONSTRAINT "{name}" {definition}')
                else:
                    (foreign if kind == "f" else uniques).append((f"{table}.{name}", statement))
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS ("
                "  SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid) "
                "ORDER BY i.relname",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
                indexes.append((f"{table}.{name}", definition))
        self.stdout.write(
            f"  dropped {len(indexes)} indexes, {len(uniques)} unique keys, "
            f"{sum(map(len, checks.values()))} checks, {len(foreign)} foreign keys"
        )
        check_statements = [(f"{t} checks", f"ALTER TABLE {t} " + ", ".join(adds)) for t, adds in checks.items()]
        return uniques + indexes + check_statements + foreign

    def _pg_customers(self, cursor, customers: int, region_ids: list[int], seed: int) -> None:
        surnames = list(demo.SURNAMES)
        params = {
            "weights": list(ID_WEIGHTS),
            "on": self.on,
            "on_start": demo.at_club_time(self.on),
            "min_tenure": len(self.months) * 31 + 35,
            "prefix": BENCH_MSISDN_PREFIX,
            "surnames": surnames,
            "n_surnames": len(surnames),
            "given": list(GIVEN_NAMES),
            "n_given": len(GIVEN_NAMES),
            "areas": [area for *_, area in BENCH_REGIONS],
            "region_ids": region_ids,
            "n_regions": len(region_ids),
            "plans": list(PLANS),
            "n_plans": len(PLANS),
            "seed": seed,
        }
        chunk = 250_000
        with self._phase("customers"):
            started = time.monotonic()
            for lo in range(1, customers + 1, chunk):
                hi = min(lo + chunk - 1, customers)
                cursor.execute(PG_CUSTOMERS, {**params, "lo": lo, "hi": hi})
                self._progress("customers", hi, customers, started)

    def _pg_bills(self, cursor, customers: int, months: int, seed: int) -> None:
        params = {
            "first_month": self.months[0],
            "months": months,
            "last": months - 1,
            "median": SPEND_MEDIAN,
            "sigma": SPEND_SIGMA,
            "bill_sigma": BILL_SIGMA,
            "seed": seed,
        }
        chunk = max(1, 1_200_000 // months)
        with self._phase("bills"):
            started = time.monotonic()
            for lo in range(1, customers + 1, chunk):
                hi = min(lo + chunk - 1, customers)
                cursor.execute(PG_BILLS, {**params, "lo": lo, "hi": hi})
                self._progress("bills", hi * months, customers * months, started)

    # Other databases -------------------------------------------------------------------------------------------

    def _load_orm(self, customers: int, wipe: bool, seed: int) -> None:
        rng = random.Random(seed)
        batch = 5000
        with transaction.atomic():
            if wipe:
                with self._phase("wipe"):
                    self._wipe_orm()
            with self._phase("regions"):
                region_ids = self._regions()
            start_at = demo.at_club_time(self.on)
            min_tenure = len(self.months) * 31 + 35
            with self._phase("customers"):
                started = time.monotonic()
                created: list[Customer] = []
                for lo in range(1, customers + 1, batch):
                    objs = []
                    for n in range(lo, min(lo + batch, customers + 1)):
                        objs.append(self._orm_customer(rng, n, region_ids, min_tenure, start_at))
                    created += Customer.objects.bulk_create(objs)
                    self._progress("customers", len(created), customers, started)
                PlanPeriod.objects.bulk_create(
                    [PlanPeriod(customer=c, plan_code=c.plan_code, started_on=c.plan_started_on) for c in created],
                    batch_size=batch,
                )
                StatusChange.objects.bulk_create(
                    [
                        StatusChange(
                            customer=c,
                            from_status="active",
                            to_status="suspended",
                            kind=c.suspension_kind,
                            occurred_at=c.status_changed_at,
                            source="generate_bench_data",
                        )
                        for c in created
                        if c.status == "suspended"
                    ],
                    batch_size=batch,
                )
            with self._phase("bills"):
                started = time.monotonic()
                total = len(created) * len(self.months)
                done = 0
                bills: list[MonthlyBill] = []
                for customer in created:
                    level = math.exp(math.log(SPEND_MEDIAN) + SPEND_SIGMA * rng.gauss(0, 1))
                    for index, month in enumerate(self.months):
                        amount = level * math.exp(BILL_SIGMA * rng.gauss(0, 1))
                        paid = rng.random() < (0.9 if index == len(self.months) - 1 else 0.985)
                        bills.append(
                            MonthlyBill(customer=customer, month=month, amount=Decimal(f"{amount:.2f}"), paid=paid)
                        )
                    if len(bills) >= batch:
                        MonthlyBill.objects.bulk_create(bills)
                        done += len(bills)
                        bills = []
                        self._progress("bills", done, total, started)
                MonthlyBill.objects.bulk_create(bills)
                self._progress("bills", total, total, started)
            with self._phase("billing months"):
                demo.billing_months_close(self.months, as_of=self.on)

    def _wipe_orm(self) -> None:
        """wipe_plan() row by row: the SET_NULL keys unset, then every emptied table deleted. Foreign keys are
        deferred, so the order does not matter."""
        emptied, unset, _pointed = wipe_plan()
        existing = set(connection.introspection.table_names())
        for model, field in unset:
            model._base_manager.filter(**{f"{field.name}__isnull": False}).update(**{field.name: None})
        with connection.cursor() as cursor:
            for model in emptied:
                if model._meta.db_table in existing:
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
                    self.stdout.write(f"  emptied {model._meta.db_table} ({cursor.rowcount:,} rows)")

    def _orm_customer(self, rng: random.Random, n: int, region_ids, min_tenure: int, start_at) -> Customer:
        region_index = n % len(region_ids)
        birthday = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(18262))
        adult = birthday.replace(year=birthday.year + 18) if (birthday.month, birthday.day) != (2, 29) else None
        join_date = self.on - dt.timedelta(days=min_tenure + rng.randrange(7000))
        join_date = max(join_date, adult or birthday + dt.timedelta(days=18 * 365 + 5))
        first17 = f"{BENCH_REGIONS[region_index][3]}{birthday:%Y%m%d}{n % 1000:03d}"
        u = rng.random()
        plan_code = "288" if u < 0.02 else "388" if u < 0.03 else "588" if u < 0.035 else rng.choice(PLANS)
        suspended = rng.random() < 0.01
        u = rng.random()
        return Customer(
            msisdn=f"{BENCH_MSISDN_PREFIX}{n:08d}",
            name=rng.choice(demo.SURNAMES) + rng.choice(GIVEN_NAMES),
            id_number=first17 + rules.id_number_check_digit(first17),
            birthday=birthday,
            join_date=join_date,
            brand="gotone" if u < 0.7 else "mzone" if u < 0.9 else "easyown",
            product_type=rng.choices(["primary", "data_card", "secondary", "iot"], weights=[90, 5, 3, 2])[0],
            plan_code=plan_code,
            plan_started_on=join_date,
            region_id=region_ids[region_index],
            status="suspended" if suspended else "active",
            suspension_kind="arrears" if suspended else "",
            status_changed_at=start_at - dt.timedelta(days=rng.randrange(1, 61)) if suspended else None,
        )

    # Both ------------------------------------------------------------------------------------------------------

    def _tier_spread(self) -> None:
        """How many primary customers would reach each tier's default threshold (score = Σ floor + tenure)."""
        until = self.on.replace(day=1)
        since = dates.add_months(until, -12)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(PG_TIER_SPREAD, {"since": since, "until": until})
                diamond, gold, silver, below = cursor.fetchone()
        else:
            points = dict(
                MonthlyBill.objects.filter(month__gte=since, month__lt=until, customer__product_type="primary")
                .values("customer_id")
                .annotate(points=Sum(Floor("amount")))
                .values_list("customer_id", "points")
            )
            joined = Customer.objects.filter(pk__in=points).values_list("pk", "join_date")
            scores = [points[pk] + _tenure_bonus(join_date, until) for pk, join_date in joined]
            diamond = sum(s >= 4000 for s in scores)
            gold = sum(2000 <= s < 4000 for s in scores)
            silver = sum(1000 <= s < 2000 for s in scores)
            below = sum(s < 1000 for s in scores)
        self.stdout.write(
            f"  primary customers by score of the last 12 months: ≥4000 {diamond:,}, ≥2000 {gold:,}, "
            f"≥1000 {silver:,}, below {below:,}"
        )
