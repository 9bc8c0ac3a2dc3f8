"""The rating acceptance drive (issue 13): a club of 400 customers driven through 15 months by the API, on runserver
and PostgreSQL as `make run` serves them — no 5xx, and never more than 20 PostgreSQL connections.

    .venv/bin/python bench/acceptance_drive.py [--customers 400] [--months 15] [--readers 32] [--database NAME]

It (re)creates its own database (default `vipclub_acceptance`, on the PostgreSQL server of DATABASE_URL), migrates
it, and starts what `make run` starts: `manage.py runserver` (a thread per client connection) and a Celery worker
with an embedded beat (`--pool=solo`), with the project's settings from the environment and .env (REDIS_URL as
set; API throttling raised so that it does not hide the result). Then, as the billing system would:
  PUT /regions/{code}/ ×4, POST /customers/bulk/ (all customers), and for each of the months up to last month:
  POST /bills/bulk/ (every customer's bill), POST /billing-months/{month}/close/, POST /rating-runs/ (the next
  month's run, which rates the closed months before it), GET
  /rating-runs/{id}/ until it is done, then GET /customers/{msisdn}/ for every customer from --readers concurrent
  clients that keep their HTTP connections open (400 × 15 = 6,000 reads).
Meanwhile a sampler counts the database's client connections in pg_stat_activity every 50 ms. Figures: answers per
status, 5xx (must be 0), the peak of connections (must stay ≤ 20), the runs' outcomes, the ledgers reconciled.
Writes bench/results/acceptance_drive.json; exit status 1 when a goal fails.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
import _serve as serve  # noqa: E402

MAX_CONNECTIONS = 20
REGIONS = [("GZ", "广州", "广东"), ("SZ", "深圳", "广东"), ("HZ", "杭州", "浙江"), ("CD", "成都", "四川")]
PLANS = ["128", "188", "288", "388", "588", "888"]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def log(message: str = "") -> None:
    print(message, flush=True)


def id_number(i: int, birthday: dt.date) -> str:
    first17 = f"440106{birthday:%Y%m%d}{i % 1000:03d}"
    return first17 + ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def last_months(n: int) -> list[str]:
    """The n months up to the last one that has ended in the club's zone, oldest first."""
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    y, m = today.year, today.month
    months = []
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        months.append(f"{y:04d}-{m:02d}")
    return months[::-1]


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


class Api:
    """A keep-alive JSON client that counts every answer by status."""

    def __init__(self, port: int, token: str, statuses: Counter, lock: threading.Lock, failures: list):
        self.port, self.token, self.statuses, self.lock, self.failures = port, token, statuses, lock, failures
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            status, raw = 0, str(exc).encode()
        with self.lock:
            self.statuses[status] += 1
            if status >= 500 or status == 0:
                self.failures.append({"method": method, "path": path, "status": status, "body": raw[:300].decode()})
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw[:300].decode(errors="replace")

    def expect(self, status_ok: tuple[int, ...], method: str, path: str, body=None):
        status, payload = self.call(method, path, body)
        if status not in status_ok:
            raise RuntimeError(f"{method} {path}: {status} {payload}")
        return payload


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--months", type=int, default=15)
    parser.add_argument("--readers", type=int, default=32, help="concurrent keep-alive clients reading profiles")
    parser.add_argument("--database", default="vipclub_acceptance", help="its own database, dropped and recreated")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if not args.database.startswith("vipclub_acceptance"):
        raise SystemExit("--database must start with vipclub_acceptance: the drive drops and recreates it")

    url = serve.database_url(args.database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # API throttling per client (6000/min by default) would answer 429s and hide the servers' own limits
        "VIPCLUB_THROTTLE_TOKEN": "1000000/min",
        "VIPCLUB_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_DIRECT_URL", None)
    log(f"acceptance drive: {args.customers} customers × {args.months} months on {args.database}")
    serve.recreate_database(url)
    serve.manage("migrate", "--noinput", "-v", "0", env=env)
    token = serve.api_token(env, "acceptance-drive", "read,customers:write,bills:write,runs:write")

    os.environ["DATABASE_URL"] = url
    common.setup_django()
    facts = common.machine_facts()
    from django.db import connection

    connection.close()
    connection.close_pool()  # this process keeps no connection to the database it measures

    logs = common.ROOT / "var" / "acceptance-drive"
    logs.mkdir(parents=True, exist_ok=True)
    port = serve.free_port()
    web = serve.Process(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], env, logs / "runserver.log"
    )  # as `make run`: with the autoreloader, a thread per connection
    worker = serve.Process(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "vipclub",
            "worker",
            "--beat",
            "--pool=solo",
            "--loglevel=warning",
        ],
        env,
        logs / "worker.log",
    )
    statuses, lock, failures = Counter(), threading.Lock(), []
    rng = random.Random(args.seed)
    runs, timings = [], {}
    started = time.monotonic()
    try:
        serve.wait_http(port, "/api/v1/health/", process=web)
        with serve.ConnectionSampler(url) as sampler, serve.OtherLoad(args.database, [web, worker]) as other:
            api = Api(port, token, statuses, lock, failures)
            for code, name, province in REGIONS:
                api.expect((200, 201), "PUT", f"/regions/{code}/", {"name": name, "province": province})
            customers = []
            for i in range(args.customers):
                birthday = dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
                customers.append(
                    {
                        "msisdn": f"139{i:08d}",
                        "name": f"客户{i}",
                        "id_number": id_number(i, birthday),
                        "birthday": birthday.isoformat(),
                        "join_date": dt.date(2008 + i % 12, 1 + i % 12, 1).isoformat(),
                        "brand": "gotone",
                        "product_type": "primary",
                        "plan_code": PLANS[i % len(PLANS)],
                        "plan_started_on": "2020-01-01",
                        "region": REGIONS[i % len(REGIONS)][0],
                        "landline": "",
                    }
                )
            api.expect((200,), "POST", "/customers/bulk/", customers)
            # spend per customer: a level between 50 and 3,000 yuan a month, each month ±30 %
            levels = [rng.choice([50, 120, 300, 600, 1200, 3000]) * rng.uniform(0.7, 1.3) for _ in customers]
            for n, month in enumerate(last_months(args.months), 1):
                t0 = time.monotonic()
                bills = [
                    {
                        "msisdn": c["msisdn"],
                        "month": month,
                        "amount": f"{level * rng.uniform(0.7, 1.3):.2f}",
                        "paid": rng.random() > 0.03,
                    }
                    for c, level in zip(customers, levels, strict=True)
                ]
                api.expect((200,), "POST", "/bills/bulk/", bills)
                api.expect((200,), "POST", f"/billing-months/{month}/close/")
                # the run of the following month rates the 12 closed months before it
                run_month = next_month(month)
                run = api.expect((200, 202), "POST", "/rating-runs/", {"month": run_month, "dry_run": False})
                deadline = time.monotonic() + 600
                while run["status"] not in ("done", "failed"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"run {run['id']} of {month} still {run['status']} after 10 minutes")
                    time.sleep(0.5)
                    run = api.expect((200,), "GET", f"/rating-runs/{run['id']}/")
                t_run = time.monotonic()
                reads = read_profiles(
                    port, token, [c["msisdn"] for c in customers], args.readers, statuses, lock, failures
                )
                t_end = time.monotonic()
                runs.append({"month": run_month, "id": run["id"], "status": run["status"], "counts": run.get("counts")})
                timings[month] = {"run_s": round(t_run - t0, 1), "reads_s": round(t_end - t_run, 1), "reads": reads}
                log(
                    f"  {n:2}/{args.months} {month}: run {run['status']} {run.get('counts')}; "
                    f"{reads} reads in {t_end - t_run:.1f} s; connections now peak {sampler.peak}"
                )
            tiers = Counter()
            for c in customers[:: max(1, len(customers) // 100)]:
                _s, profile = api.call("GET", f"/customers/{c['msisdn']}/")
                tiers[((profile or {}).get("tier") or {}).get("code") or "none"] += 1
    finally:
        web.stop()
        worker.stop()
    elapsed = time.monotonic() - started
    ledger = serve.reconcile(url)
    five_xx = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
    out = {
        "benchmark": "acceptance_drive",
        "machine": facts,
        "settings": {
            **vars(args),
            "server": "manage.py runserver (threaded) + celery worker --beat --pool=solo",
            "redis": bool(os.environ.get("REDIS_URL")),
        },
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "five_xx": five_xx,
        "failures": failures[:20],
        "connections": sampler.as_dict(),
        "runs": runs,
        "timings": timings,
        "sample_tiers": dict(tiers),
        "ledger": ledger,
        "other_load": other.as_dict(),
        "elapsed_seconds": round(elapsed, 1),
        "goals": [
            {"goal": "no 5xx", "value": five_xx, "passed": five_xx == 0},
            {
                "goal": f"peak PostgreSQL connections <= {MAX_CONNECTIONS}",
                "value": sampler.peak,
                "passed": sampler.peak <= MAX_CONNECTIONS,
            },
            {
                "goal": "every run done",
                "value": Counter(r["status"] for r in runs),
                "passed": len(runs) == args.months and all(r["status"] == "done" for r in runs),
            },
            {"goal": "ledgers reconcile", "value": ledger["violations"], "passed": ledger["sound"]},
        ],
    }
    log()
    log(f"requests {out['requests']:,} in {elapsed:.0f} s, statuses {out['statuses']}")
    log(
        f"peak PostgreSQL connections {sampler.peak} (by state {sampler.peak_states}), mean {out['connections']['mean']}"
    )
    log(f"ledgers: {'sound' if ledger['sound'] else 'BROKEN'} {ledger['violations']}")
    for goal in out["goals"]:
        log(f"goal {goal['goal']}: {goal['value']} -> {'PASS' if goal['passed'] else 'FAIL'}")
    path = common.write_results("acceptance_drive", out)
    log(f"written {path.relative_to(common.ROOT)} (server logs in {logs.relative_to(common.ROOT)}/)")
    return 0 if all(g["passed"] for g in out["goals"]) else 1


def read_profiles(port, token, msisdns, readers, statuses, lock, failures) -> int:
    """Every profile once, from `readers` keep-alive clients."""
    queue = list(msisdns)
    done = [0]

    def reader():
        api = Api(port, token, statuses, lock, failures)
        while True:
            with lock:
                if not queue:
                    break
                msisdn = queue.pop()
            api.call("GET", f"/customers/{msisdn}/")
            with lock:
                done[0] += 1
        # the client connection stays open until the reader is collected, as a browser's or a partner's would

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0]


if __name__ == "__main__":
    sys.exit(common.run(main))
