"""Benchmark of the webhook delivery (issue 18): 100,000 events delivered to a local receiver by 2 workers.

    DATABASE_URL=postgres://…/<db> .venv/bin/python bench/webhooks.py [--events 100000] [--workers 2]

PostgreSQL only (the delivery's SKIP LOCKED claims are what lets workers share an endpoint). The script migrates the
database, EMPTIES the outbox and the partners tables, inserts --events `tier.changed` events of distinct customers
(one statement), registers one endpoint (a receiver on loopback, in this process: a threading HTTP server answering
200), then measures
  (f) the fan-out: the events become deliveries (INSERT … SELECT in batches of VIPCLUB_WEBHOOK_FANOUT_BATCH);
  (d) the delivery: --workers processes of `manage.py deliver_webhooks --once` sharing the endpoint's batches
      (VIPCLUB_WEBHOOK_BATCH per claim, VIPCLUB_WEBHOOK_THREADS sending threads each), until nothing is due;
and checks that the receiver got every event exactly once. Figures go to bench/results/webhooks.json.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Refused, machine_facts, setup_django, write_results  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Counter = Counter()
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        with self.lock:
            self.seen[self.headers["webhook-id"]] += 1
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("VIPCLUB_WEBHOOK_ALLOW_HTTP", "true")
    os.environ.setdefault("VIPCLUB_WEBHOOK_ALLOW_PRIVATE", "true")
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from partners import delivery, services
    from partners.models import Delivery

    if connection.vendor != "postgresql":
        raise Refused("bench/webhooks.py measures PostgreSQL: set DATABASE_URL to a PostgreSQL database.")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE partners_delivery, partners_historicalwebhookendpoint, partners_webhookendpoint CASCADE")
        cur.execute("TRUNCATE core_outboxevent")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    endpoint = services.endpoint_create(url=url, types=["tier.changed"], actor=None, at=timezone.now())
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO core_outboxevent (type, customer_id, msisdn, occurred_at, data, created_at)
               SELECT 'tier.changed', g, '199' || lpad(g::text, 8, '0'), now(),
                      jsonb_build_object('from_tier', 'gold', 'to_tier', 'platinum', 'reason', 'score',
                                         'effective_on', '2026-12-01', 'valid_until', '2027-12-31', 'run', 1),
                      now()
               FROM generate_series(1, %s) g""",
            [args.events],
        )
    started = time.perf_counter()
    while Delivery.objects.filter(endpoint=endpoint).count() < args.events:
        delivery.fan_out(at=timezone.now())
    fan_out = time.perf_counter() - started
    env = {**os.environ}
    started = time.perf_counter()
    workers = [
        subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "deliver_webhooks", "--once"], env=env, cwd=ROOT)
        for _ in range(args.workers)
    ]
    for w in workers:
        w.wait()
    elapsed = time.perf_counter() - started
    delivered = Delivery.objects.filter(endpoint=endpoint, status="delivered").count()
    twice = sum(1 for n in Handler.seen.values() if n > 1)
    figures = {
        "events": args.events,
        "workers": args.workers,
        "fan_out_s": round(fan_out, 2),
        "deliver_s": round(elapsed, 2),
        "events_per_s": round(delivered / elapsed),
        "delivered": delivered,
        "received": len(Handler.seen),
        "received_twice": twice,
    }
    print(
        f"(f) fan-out of {args.events:,} events: {fan_out:.2f} s\n"
        f"(d) delivery with {args.workers} workers: {elapsed:.2f} s = {delivered / elapsed:,.0f} events/s; "
        f"delivered {delivered:,}, received {len(Handler.seen):,}, received twice {twice}"
    )
    write_results("webhooks", {"machine": machine_facts(), **figures})
    server.shutdown()


if __name__ == "__main__":
    main()
