"""Benchmark of the API under load on loopback: the customer read of the integration contract against a bare
endpoint in the same server, on the bench database (PostgreSQL).

    .venv/bin/python bench/api.py [--seconds 10] [--connections 4] [--workers 2] [--repeat 2] [--wait 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/vipclub_bench (see bench/_common.py); the script refuses
SQLite, a database with fewer than 100k customers, or one with customers that generate_bench_data did not create.
It only reads, apart from an API client user `api-bench` (and its token) that it creates and deletes at the end.
It first waits (--wait) for the bench lock and until no other session uses the database, then refuses.

Gunicorn serves bench/_api_server.py (the project's URLs plus the bare endpoint) on 127.0.0.1 with --workers sync
workers, production settings (DEBUG off; https redirect and throttling off: the benchmark measures the read, not
the proxy or Redis). A load generator in this script — --connections threads, each sending its next request as soon
as the previous answer is read, for --seconds per endpoint after a 2-second warm-up — measures:
  (r) GET /api/v1/customers/{msisdn}/ with `Authorization: Token …` (an API client): middleware, DRF token
      authentication, permission and scope, the customer with region, tier, manager, points and credit stars,
      the serializer;
  (b) GET /bench/bare/{msisdn}/: the same server and middleware, the same data (customer, region, tier, manager,
      points, stored credit stars) in one SQL statement, a JsonResponse — no DRF, ORM or serializer;
  (h) GET /api/v1/health/ (info): the database and the broker probed.
msisdns cycle through 2,000 random customers. With --repeat N the endpoints alternate N times and the best round of
each counts (other processes only ever slow a round down). Figures: requests per second, latency p50 / p99.
Goal (issue 20): (r) serves at least half of (b)'s requests per second (bare / read <= 2), with p99 <= 25 ms at 8
connections, as the other benchmarks judge the production path against the bare SQL of the same work.
"""

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MIN_CUSTOMERS = 100_000
GOAL = 2.0  # issue 20: the read serves at least half the bare endpoint's requests per second
P99_GOAL_MS = 25.0  # … with p99 <= 25 ms at 8 connections
SAMPLE = 2000
WARMUP = 2.0
BENCH_USER = "api-bench"


def log(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_msisdns(n: int = SAMPLE) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT msisdn FROM customers_customer TABLESAMPLE SYSTEM (1) REPEATABLE (42) LIMIT %s", [n])
        return [r[0] for r in cursor.fetchall()]


def api_client_token() -> tuple[str, str]:
    """The token of an API client with the `read` scope (its group `api:read`, made by the roles migration), and
    who it is. Without that group (the bench database lacks migrations) a staff token reads instead."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from core.permissions import API_CLIENTS_GROUP

    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"first_name": "bench"})
    user.groups.add(Group.objects.get_or_create(name=API_CLIENTS_GROUP)[0])
    read_scope = Group.objects.filter(name="api:read").first()
    if read_scope is not None:
        user.groups.add(read_scope)
        who = "API client, scope read"
    else:  # a staff token is no super-token (issue 13): a club admin's is
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
        who = "club admin token (no api:read group: the bench database lacks the roles migration)"
    token, _ = Token.objects.get_or_create(user=user)
    return token.key, who


def delete_api_client() -> None:
    """In SQL: the user wrote nothing, and the ORM's cascade would visit every app's history tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM auth_user WHERE username = %s", [BENCH_USER])
        for (user_id,) in cursor.fetchall():
            cursor.execute("DELETE FROM authtoken_token WHERE user_id = %s", [user_id])
            cursor.execute("DELETE FROM auth_user_groups WHERE user_id = %s", [user_id])
            cursor.execute("DELETE FROM auth_user WHERE id = %s", [user_id])


class Server:
    """gunicorn on loopback, serving bench/_api_server.py with production settings."""

    def __init__(self, *, workers: int):
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "VIPCLUB_THROTTLE_TOKEN": "",
            "VIPCLUB_THROTTLE_USER": "",
            "VIPCLUB_THROTTLE_ANON": "",
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "_api_server:application",
                "--chdir",
                str(common.ROOT),
                "--pythonpath",
                "bench",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--logger-class",
                "core.logging.GunicornLogger",
                "--log-level",
                "warning",
            ],
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = get(self.port, "/bench/bare/0/")
                if status == 404:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("gunicorn did not start (see its output above)")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def get(port: int, path: str, headers: dict | None = None, conn=None) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def load(port: int, paths: list[str], *, seconds: float, connections: int, headers: dict) -> dict:
    """`connections` closed-loop clients for `seconds`; latency of every answer, counted per status."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: list[dict[int, int]] = [{} for _ in range(connections)]
    stop = threading.Event()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = i * 7919
        while not stop.is_set():
            path = paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            try:
                status, _ = get(port, path, headers, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            latencies[i].append(time.perf_counter() - started)
            statuses[i][status] = statuses[i].get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    all_latencies = sorted(x for per in latencies for x in per)
    counts: dict[int, int] = {}
    for per in statuses:
        for k, v in per.items():
            counts[k] = counts.get(k, 0) + v
    n = len(all_latencies)
    return {
        "requests": n,
        "seconds": round(wall, 2),
        "rps": round(n / wall, 1),
        "p50_ms": round(statistics.median(all_latencies) * 1e3, 2) if n else None,
        "p99_ms": round(all_latencies[min(n - 1, int(n * 0.99))] * 1e3, 2) if n else None,
        "statuses": {str(k): v for k, v in sorted(counts.items())},
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint and round")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best of each endpoint counts")
    common.add_wait_argument(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal fails")
    args = parser.parse_args(argv)

    customers = common.open_bench_database(min_customers=MIN_CUSTOMERS, wait=args.wait, log=log)
    facts = common.machine_facts()
    msisdns = sample_msisdns()
    token, client = api_client_token()
    pending = common.pending_migrations()
    if pending:
        log(
            f"  note: the bench database lacks {len(pending)} migrations ({', '.join(pending)}); the server runs "
            "the current code on the older schema"
        )
    endpoints = {
        "read": ([f"/api/v1/customers/{m}/" for m in msisdns], {"Authorization": f"Token {token}"}),
        "bare": ([f"/bench/bare/{m}/" for m in msisdns], {}),
        "health": (["/api/v1/health/"], {}),
    }
    log(
        f"api benchmark, {facts['date']}: {customers:,} customers, {len(msisdns):,} sampled; gunicorn "
        f"{args.workers} workers, {args.connections} clients, {args.seconds:g} s per endpoint, {args.repeat} rounds; "
        f"reading as {client}"
    )
    server = Server(workers=args.workers)
    rounds: dict[str, list[dict]] = {k: [] for k in endpoints}
    started = time.monotonic()
    try:
        for n in range(args.repeat):
            for name in ("bare", "read") + (("health",) if n == 0 else ()):
                paths, headers = endpoints[name]
                load(server.port, paths, seconds=WARMUP, connections=args.connections, headers=headers)
                result = load(server.port, paths, seconds=args.seconds, connections=args.connections, headers=headers)
                rounds[name].append(result)
                log(
                    f"  round {n + 1} {name:6} {result['rps']:8.1f} req/s  p50 {result['p50_ms']} ms  p99 "
                    f"{result['p99_ms']} ms  statuses {result['statuses']}"
                )
    finally:
        server.stop()
        delete_api_client()
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in rounds.items()}
    for name, result in best.items():
        if set(result["statuses"]) != {"200"}:
            raise SystemExit(f"{name}: answers other than 200: {result['statuses']}")
    read, bare = best["read"], best["bare"]
    ratio = round(bare["rps"] / read["rps"], 2)
    out = {
        "benchmark": "api",
        "machine": facts,
        "settings": vars(args),
        "data": {
            "customers": customers,
            "sampled_msisdns": len(msisdns),
            "client": client,
            "pending_migrations": pending,
        },
        "rounds": rounds,
        "best": best,
        "ratios": {
            "bare_rps_over_read_rps": ratio,
            "read_p50_over_bare_p50": round(read["p50_ms"] / bare["p50_ms"], 2),
            "read_p99_over_bare_p99": round(read["p99_ms"] / bare["p99_ms"], 2),
        },
        "goal": {
            "goal": f"bare / read requests per second <= {GOAL:g} and read p99 <= {P99_GOAL_MS:g} ms",
            "value": ratio,
            "p99_ms": read["p99_ms"],
            "passed": ratio <= GOAL and read["p99_ms"] <= P99_GOAL_MS,
        },
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }
    rows = [
        [
            f"({k[0]}) {label}",
            f"{best[k]['rps']:.1f}",
            f"{best[k]['p50_ms']:.2f}",
            f"{best[k]['p99_ms']:.2f}",
            f"{best['bare']['rps'] / best[k]['rps']:.2f}",
        ]
        for k, label in (
            ("bare", "bare endpoint, the same data in one SQL statement"),
            ("read", "GET /api/v1/customers/{msisdn}/"),
            ("health", "GET /api/v1/health/ (info)"),
        )
    ]
    log()
    log(common.table(rows, ["endpoint", "req/s", "p50 ms", "p99 ms", "bare rps / rps"]))
    log(
        f"\ngoal {out['goal']['goal']}: {ratio}, p99 {read['p99_ms']} ms -> {'PASS' if out['goal']['passed'] else 'FAIL'}"
    )
    path = common.write_results("api", out)
    log(f"written {path.relative_to(common.ROOT)}")
    return 1 if args.strict and not out["goal"]["passed"] else 0


if __name__ == "__main__":
    sys.exit(common.run(main))
