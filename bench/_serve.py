"""Shared helpers of the serving benchmarks (bench/load.py, bench/acceptance_drive.py): a database of their own on
the PostgreSQL server of DATABASE_URL, the project's servers as subprocesses, PgBouncer on a free port, a sampler
of the database's connections, and the ledger reconciliation. Running this file does nothing.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _common
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(name: str) -> str:
    """DATABASE_URL's server (default the local one) with database `name`."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"DATABASE_URL must be PostgreSQL (got {parts.scheme}): this benchmark measures PostgreSQL.")
    return urlunsplit(parts._replace(path=f"/{name}"))


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].rsplit(":", 1)[0]
    return urlunsplit(parts._replace(netloc=(netloc[0] + "@" if len(netloc) == 2 else "") + f"{host}:{port}"))


def connect(url: str, dbname: str | None = None, **kwargs) -> psycopg.Connection:
    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or None,
        password=parts.password or None,
        dbname=dbname or parts.path.lstrip("/"),
        **kwargs,
    )


def database_exists(url: str) -> bool:
    name = urlsplit(url).path.lstrip("/")
    with connect(url, "postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with connect(url, "postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def manage(*args: str, env: dict, capture: bool = False) -> str:
    """`manage.py …` in a subprocess with `env`; its output when `capture`."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, text=True, capture_output=capture, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({result.returncode}): {result.stderr or ''}")
    return result.stdout if capture else ""


def api_token(env: dict, name: str, scopes: str) -> str:
    out = manage("create_api_client", name, "--scopes", scopes, "--rotate", env=env, capture=True)
    tokens = [w for w in out.split() if len(w) == 40 and w.isalnum()]
    if not tokens:
        raise SystemExit(f"create_api_client printed no token: {out}")
    return tokens[-1]


class Process:
    """A server process in its own process group (stopped with SIGTERM to the group, then SIGKILL)."""

    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log = open(log_path, "w")  # noqa: SIM115 - kept open while the process runs
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()


def wait_http(port: int, path: str, *, process: Process, timeout: float = 90) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        if not process.alive() or time.monotonic() > deadline:
            raise SystemExit(f"the server did not answer {path} on port {port} (see its log {process.log.name})")
        time.sleep(0.3)


class PgBouncer:
    """PgBouncer (Debian's package) in transaction mode on a free loopback port, configured in a temporary
    directory, in front of the PostgreSQL server of `url` (which must accept the user without a password from
    127.0.0.1, as the local development and CI server does)."""

    def __init__(self, url: str, *, pool_size: int = 20):
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.path.exists(binary):
            raise SystemExit("pgbouncer is not installed (apt-get install pgbouncer)")
        parts = urlsplit(url)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vipclub-pgbouncer-"))
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir = {self.dir}\n"
            f"auth_type = trust\nauth_file = {self.dir}/userlist.txt\npool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 1000\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir}/pgbouncer.log\npidfile = {self.dir}/pgbouncer.pid\n"
        )
        (self.dir / "userlist.txt").write_text(f'"{parts.username or "postgres"}" ""\n')
        args = [binary, "-d", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            shutil.chown(self.dir, "postgres")
            for f in self.dir.iterdir():
                shutil.chown(f, "postgres")
            args[1:1] = ["-u", "postgres"]
        subprocess.run(args, check=True)
        deadline = time.monotonic() + 10
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"pgbouncer did not start (see {self.dir}/pgbouncer.log)")
            time.sleep(0.2)

    def stop(self) -> None:
        pidfile = self.dir / "pgbouncer.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            time.sleep(0.3)
        shutil.rmtree(self.dir, ignore_errors=True)


class OtherLoad(_common.OtherLoad):
    """_common.OtherLoad that counts the servers this benchmark started (their process groups) and its own process
    group (Locust) as its own, not as other processes' load."""

    def __init__(self, database: str, processes: list[Process]):
        super().__init__(database)
        self.groups = {os.getpgid(0)} | {p.popen.pid for p in processes}

    def _ours(self, pid: int, cmdline: str) -> bool:
        if super()._ours(pid, cmdline):
            return True
        try:
            return os.getpgid(pid) in self.groups
        except OSError:
            return False


class ConnectionSampler:
    """Samples the server connections to one database (pg_stat_activity, client backends) every `interval`
    seconds from a connection to the `postgres` database, which it does not count."""

    def __init__(self, url: str, *, interval: float = 0.05):
        self.url, self.interval = url, interval
        self.name = urlsplit(url).path.lstrip("/")
        self.peak, self.samples, self.total = 0, 0, 0
        self.peak_states: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        return False

    def _run(self) -> None:
        with connect(self.url, "postgres", autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT state, count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend' GROUP BY state",
                    [self.name],
                ).fetchall()
                n = sum(c for _s, c in rows)
                self.samples += 1
                self.total += n
                if n > self.peak:
                    self.peak, self.peak_states = n, {s or "?": c for s, c in rows}
                self._stop.wait(self.interval)

    def as_dict(self) -> dict:
        return {
            "peak": self.peak,
            "peak_by_state": self.peak_states,
            "mean": round(self.total / self.samples, 1) if self.samples else None,
            "samples": self.samples,
            "interval_seconds": self.interval,
        }


# The ledgers' invariants, one row per violation (see DOMAIN.md and the models): a points balance equals the sum of
# its ledger entries and the sum of its lots' remaining points; a benefit account's granted and used equal the sums
# of its ledger's changes.
RECONCILIATION = {
    "points_balance_vs_ledger": """
        SELECT count(*) FROM points_pointsaccount a
        LEFT JOIN (SELECT customer_id, SUM(amount) s FROM points_pointsentry GROUP BY customer_id) e USING (customer_id)
        WHERE a.balance <> COALESCE(e.s, 0)""",
    "points_balance_vs_lots": """
        SELECT count(*) FROM points_pointsaccount a
        LEFT JOIN (SELECT customer_id, SUM(remaining) s FROM points_pointslot GROUP BY customer_id) l USING (customer_id)
        WHERE a.balance <> COALESCE(l.s, 0)""",
    "points_lots_out_of_range": "SELECT count(*) FROM points_pointslot WHERE remaining < 0 OR remaining > original",
    "benefit_used_vs_ledger": """
        SELECT count(*) FROM benefits_benefitaccount a
        LEFT JOIN (SELECT account_id, SUM(used_delta) u FROM benefits_benefitentry GROUP BY account_id) e
          ON e.account_id = a.id
        WHERE a.used <> COALESCE(e.u, 0)""",
    "benefit_granted_vs_ledger": """
        SELECT count(*) FROM benefits_benefitaccount a
        LEFT JOIN (SELECT account_id, SUM(granted_delta) g FROM benefits_benefitentry GROUP BY account_id) e
          ON e.account_id = a.id
        WHERE a.granted <> COALESCE(e.g, 0)""",
    "benefit_used_over_granted": "SELECT count(*) FROM benefits_benefitaccount WHERE NOT unlimited AND used > granted",
}
TOTALS = {
    "points_accounts": "SELECT count(*) FROM points_pointsaccount",
    "points_balance_sum": "SELECT COALESCE(SUM(balance), 0) FROM points_pointsaccount",
    "points_ledger_sum": "SELECT COALESCE(SUM(amount), 0) FROM points_pointsentry",
    "points_entries": "SELECT count(*) FROM points_pointsentry",
    "benefit_accounts": "SELECT count(*) FROM benefits_benefitaccount",
    "benefit_used_sum": "SELECT COALESCE(SUM(used), 0) FROM benefits_benefitaccount",
    "benefit_ledger_used_sum": "SELECT COALESCE(SUM(used_delta), 0) FROM benefits_benefitentry",
    "benefit_entries": "SELECT count(*) FROM benefits_benefitentry",
}


def reconcile(url: str) -> dict:
    """Violations of each ledger invariant (all 0 when sound) and the totals they compare."""
    with connect(url) as conn:
        violations = {k: conn.execute(q).fetchone()[0] for k, q in RECONCILIATION.items()}
        totals = {k: int(conn.execute(q).fetchone()[0]) for k, q in TOTALS.items()}
    return {"violations": violations, "sound": not any(violations.values()), "totals": totals}


if __name__ == "__main__":  # `make bench` runs bench/[!_]*.py only
    print("bench/_serve.py: helpers of bench/load.py and bench/acceptance_drive.py; nothing to run.")
