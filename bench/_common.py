"""Shared helpers of the benchmark scripts (imported by bench/*.py; running this file does nothing).

`setup_django()` points Django at the bench database (DATABASE_URL, default the local `vipclub_bench`),
`require_bench_database()` refuses SQLite, small or non-benchmark databases, `machine_facts()` describes the
machine and the server, `write_results()` stores a script's figures under bench/results/ (git-ignored).
"""

import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vipclub_bench"
LOAD_HINT = (
    "Load it with:\n"
    f"  DATABASE_URL={DEFAULT_DATABASE_URL} .venv/bin/python manage.py migrate\n"
    f"  DATABASE_URL={DEFAULT_DATABASE_URL} .venv/bin/python manage.py generate_bench_data "
    "--customers 1000000 --months 12 --wipe\n"
    "(about 70 s on PostgreSQL), or set DATABASE_URL to a database that holds such data."
)


class Refused(SystemExit):
    pass


def setup_django(*, debug: bool = False) -> None:
    """Django on the bench database. SQL logging (DEBUG) is off unless asked: production does not log."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # The connection pool opens no connection ahead of use: wait_for_other_sessions() counts every other session
    # on the database, an idle one of this process's own pool included.
    os.environ.setdefault("DATABASE_POOL_MIN_SIZE", "0")
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = debug  # connection.queries_logged reads it on every query


def require_bench_database(*, min_customers: int, msisdn_prefix: str = "199") -> int:
    """Refuse anything but a PostgreSQL database loaded by generate_bench_data; return the customer count."""
    from django.db import connection

    from customers.models import Customer

    if connection.vendor != "postgresql":
        raise Refused(
            f"Refusing to run on {connection.vendor}: the benchmarks measure PostgreSQL (production). "
            f"Set DATABASE_URL to a PostgreSQL bench database (default {DEFAULT_DATABASE_URL}).\n{LOAD_HINT}"
        )
    try:
        customers = Customer.objects.count()
    except Exception as exc:  # not migrated, no such database
        raise Refused(f"Cannot read customers from {_db_label()}: {exc}\n{LOAD_HINT}") from exc
    if customers < min_customers:
        raise Refused(
            f"Refusing to run: {_db_label()} holds {customers:,} customers, fewer than {min_customers:,}.\n{LOAD_HINT}"
        )
    if Customer.objects.exclude(msisdn__startswith=msisdn_prefix).exists():
        raise Refused(
            f"Refusing to run: {_db_label()} holds customers that generate_bench_data did not create "
            f"(msisdn not {msisdn_prefix}…); the benchmark empties tables and must not touch real data."
        )
    return customers


def open_bench_database(*, min_customers: int, wait: float, why: str = "", log=print) -> int:
    """setup_django(), require_bench_database() and wait_for_other_sessions() in one: the customer count. Raises
    Refused (see run()) when the database is not a bench database, or still busy after `wait` seconds (`why`: what
    the script does that needs the database to itself)."""
    setup_django()
    customers = require_bench_database(min_customers=min_customers)
    others = wait_for_other_sessions(timeout=wait, log=log)
    if others:
        raise Refused(
            f"Refusing to run: other sessions use the database ({'; '.join(others)}). {why}"
            "Retry when they are done (or raise --wait)."
        )
    return customers


def pending_migrations() -> list[str]:
    """Migrations of the code that the bench database lacks (an app newer than the bench data), as app.name."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan]


def add_wait_argument(parser) -> None:
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for other sessions (default 600)")


def run(main) -> int:
    """A script's exit status: main()'s, or 2 with the message on stderr when it refused to run."""
    try:
        return main()
    except Refused as exc:
        print(exc.code, file=sys.stderr)
        return 2


BENCH_LOCK = 0x76697062  # pg advisory lock key ("vipb"): one benchmark at a time per database
_WAIT_MARK = "/* bench: waiting for its turn */"


def wait_for_other_sessions(*, timeout: float = 600.0, poll: float = 5.0, log=print) -> list[str]:
    """Wait for this database to ourselves: another benchmark would disturb the timings, and a benchmark that
    empties tables would disturb it. Returns what still stood in the way at the timeout (empty: go ahead).

    First one benchmark at a time: a session-level advisory lock, held until this process's connection closes.
    Then other sessions must end, except those that only wait for their turn (their last query is this probe)."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    announced = locked = False
    while True:
        with connection.cursor() as cursor:
            if not locked:
                cursor.execute(f"SELECT pg_try_advisory_lock(%s) {_WAIT_MARK}", [BENCH_LOCK])
                locked = cursor.fetchone()[0]
            others = ["another benchmark holds the bench lock"]
            if locked:
                cursor.execute(
                    f"SELECT pid, state, left(query, 60) FROM pg_stat_activity {_WAIT_MARK} "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND query NOT LIKE %s "
                    "AND query NOT LIKE 'SELECT pid, coalesce(application_name%%'",  # waiters of an older version
                    ["%" + _WAIT_MARK + "%"],
                )
                others = [f"pid {pid} {state}: {query}" for pid, state, query in cursor]
        if not others or time.monotonic() >= deadline:
            if others and locked:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [BENCH_LOCK])
            return others
        if not announced:
            log(f"waiting up to {timeout:.0f} s for other sessions on {_db_label()} to end: {'; '.join(others)}")
            announced = True
        time.sleep(poll)


def _db_label() -> str:
    from django.db import connection

    s = connection.settings_dict
    return f"database {s.get('NAME')!r} on {s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}"


def machine_facts() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
        settings_ = {}
        for name in (
            "server_version",
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "effective_cache_size",
            "max_parallel_workers_per_gather",
            "max_parallel_workers",
            "jit",
            "random_page_cost",
            "synchronous_commit",
            "max_wal_size",
            "autovacuum",
        ):
            cursor.execute(f"SHOW {name}")
            settings_[name] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()")
        other_active = cursor.fetchone()[0]
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "django": __import__("django").get_version(),
        "postgresql": version,
        "postgresql_settings": settings_,
        "database": _db_label(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "other_active_db_sessions_at_start": other_active,
        "pgoptions": os.environ.get("PGOPTIONS", ""),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    """pid -> (user + system clock ticks, command line) of every process now."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ticks[int(entry)] = (int(fields[11]) + int(fields[12]), cmdline)
    return ticks


class OtherLoad:
    """CPU seconds that processes other than this benchmark used while it measured (Linux /proc), and the CPU
    pressure (PSI, share of the time some task waited for a CPU).

    Ours: this process, the PostgreSQL backends of our database (their title names it) and PostgreSQL's own
    background processes. Processes that exit before the end are missed, so this is a lower bound; the pressure
    catches them (but also counts our own threads when they outnumber the cores)."""

    AUX = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication", "stats")

    def __init__(self, database: str):
        self.database = database

    def _ours(self, pid: int, cmdline: str) -> bool:
        if pid == os.getpid():
            return True
        if cmdline.startswith("postgres:"):
            return f" {self.database} " in cmdline or any(a in cmdline for a in self.AUX)
        return False

    def __enter__(self):
        self.started = time.perf_counter()
        self.before = _cpu_ticks() if os.path.isdir("/proc") else {}
        self.pressure_before = _cpu_pressure_us()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.started
        after = _cpu_ticks() if os.path.isdir("/proc") else {}
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        other, busy = 0, []
        for pid, (ticks, cmdline) in after.items():
            if self._ours(pid, cmdline):
                continue
            delta = ticks - self.before.get(pid, (0, ""))[0] if pid in self.before else ticks
            if delta > 0:
                other += delta
                busy.append((delta, cmdline[:60]))
        self.cpu_seconds = round(other / hz, 2)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.share = round(other / hz / (wall * cores), 3) if wall > 0 else 0.0
        self.top = [f"{cmd} ({d / hz:.1f} s)" for d, cmd in sorted(busy, reverse=True)[:3] if d / hz >= 0.1]
        pressure_after = _cpu_pressure_us()
        self.pressure = (
            round((pressure_after - self.pressure_before) / 1e6 / wall, 3)
            if wall > 0 and pressure_after is not None and self.pressure_before is not None
            else None
        )
        return False

    def as_dict(self) -> dict:
        return {
            "other_cpu_seconds": self.cpu_seconds,
            "other_cpu_share": self.share,
            "other_top": self.top,
            "cpu_pressure": self.pressure,
        }


def _cpu_pressure_us() -> int | None:
    """Linux PSI: total µs during which some runnable task waited for a CPU (None where unavailable).
    Over a measurement, its growth divided by the wall time says how contended the CPUs were, including by
    short-lived processes that the per-process accounting misses."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        return int(some[-1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    return path


def table(rows: list[list], headers: list[str]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    aligned = []
    for r in cells:
        aligned.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )
    aligned.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(aligned)


class Stopwatch:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


class StatementTimer:
    """A Django `execute_wrapper` (`with connection.execute_wrapper(timer):`) timing every statement it sees:
    `calls` holds (sql, params, seconds, rows affected) in order; `totals` sums them per statement."""

    def __init__(self):
        self.calls: list[tuple[str, object, float, int]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            cursor = context.get("cursor")
            rows = cursor.rowcount if cursor is not None else 0
            self.calls.append((sql, params, time.perf_counter() - started, rows))

    def clear(self) -> None:
        self.calls.clear()

    @staticmethod
    def label(sql: str, words: int | None = None, width: int = 90) -> str:
        """The statement's first `words` words (all when None), whitespace collapsed, cut at `width` characters."""
        return " ".join(sql.split()[:words])[:width]

    def totals(self) -> dict[str, tuple[float, int, int]]:
        """Per statement label: (seconds in all, calls, most rows one call affected), slowest first."""
        sums: dict[str, list] = {}
        for sql, _, seconds, rows in self.calls:
            entry = sums.setdefault(self.label(sql), [0.0, 0, 0])
            entry[0] += seconds
            entry[1] += 1
            entry[2] = max(entry[2], rows)
        return {k: tuple(v) for k, v in sorted(sums.items(), key=lambda kv: -kv[1][0])}

    def last(self, text: str) -> tuple[str, object] | None:
        """The last statement containing `text`, with its parameters (to EXPLAIN it again)."""
        for sql, params, _, _ in reversed(self.calls):
            if text in sql:
                return sql, params
        return None


if __name__ == "__main__":  # `make bench` runs every bench/*.py: this module only holds helpers
    print("bench/_common.py: helpers for the bench scripts; nothing to run.")
