"""The webhook delivery (API.md "Outbound events"), in three steps any number of workers may run side by side:

1. `fan_out`: per endpoint, the outbox events past its `cursor` become `Delivery` rows by one `INSERT … SELECT` per
   batch (a 1M-member run is a few statements, not 1M tasks). The cursor only moves up to the feed's safe horizon
   (`core.feed.safe_horizon`, the one place that knows which ids are settled: on PostgreSQL an id is taken when its
   transaction inserts, not when it commits), so the webhooks and `/feed/` skip nothing and agree on the order.
2. `claim`: a short transaction takes up to VIPCLUB_WEBHOOK_BATCH due deliveries of an endpoint, oldest event first,
   `FOR UPDATE SKIP LOCKED`, and leases them for VIPCLUB_WEBHOOK_LEASE seconds. Only the head of each customer's line
   is due (no earlier pending or failed delivery of the same endpoint and customer), so a batch holds at most one
   event per customer and concurrent workers never send a customer's events out of order.
3. `send` + `record`: the batch is POSTed in parallel threads (signed with `standardwebhooks`, 10 s timeout, one
   kept-alive connection per thread and host) and the answers are written back: 2xx delivered, anything else failed
   with the next attempt after an exponential backoff with jitter, parked once the retry window (3 days) has passed.
   A worker killed mid-batch leaves leased, unanswered rows that become due again when the lease runs out: duplicates
   only for deliveries whose 2xx was not recorded.
"""

import datetime as dt
import http.client
import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from standardwebhooks import Webhook

from core import feed
from core.models import OutboxEvent
from core.sql import Params

from . import services
from .models import Delivery, WebhookEndpoint
from .ssrf import UnsafeUrl, check_url

log = logging.getLogger(__name__)

OPEN = (Delivery.Status.PENDING, Delivery.Status.FAILED)
ANALYZE_AFTER = 10_000  # deliveries written by one fan-out statement that make it refresh the table's statistics


# ---------------------------------------------------------------------------------------------------- 1. fan out
def fan_out(*, at: dt.datetime, endpoint_id: int | None = None) -> int:
    """Turn the settled outbox events past each endpoint's cursor into deliveries; the number of rows written."""
    written = 0
    ids = [endpoint_id] if endpoint_id else list(WebhookEndpoint.objects.values_list("id", flat=True))
    for pk in ids:
        while True:
            n, more = _fan_out_one(pk, at=at)
            written += n
            if not more:
                break
    return written


def _fan_out_one(endpoint_id: int, *, at: dt.datetime) -> tuple[int, bool]:
    settled = feed.safe_horizon()  # before any lock: this transaction has no xid yet (it would not see itself)
    with transaction.atomic():
        qs = WebhookEndpoint.objects.filter(pk=endpoint_id)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        endpoint = qs.first()
        if endpoint is None:
            return 0, False  # another worker fans this endpoint out
        hi = min(settled, endpoint.cursor + settings.VIPCLUB_WEBHOOK_FANOUT_BATCH)
        if hi <= endpoint.cursor:  # nothing settled past the cursor (a fresh process has observed nothing yet)
            return 0, False
        n = _insert_deliveries(endpoint, lo=endpoint.cursor, hi=hi, at=at)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(cursor=hi)
        return n, hi < settled


def _insert_deliveries(endpoint: WebhookEndpoint, *, lo: int, hi: int, at: dt.datetime) -> int:
    types = list(endpoint.types or [])
    type_filter = f"AND o.type IN ({', '.join(['%s'] * len(types))})" if types else ""
    sql = f"""
        INSERT INTO partners_delivery (endpoint_id, event_id, type, customer_key, status, attempts, retry_from,
                                       next_attempt_at, last_error)
        SELECT %s, o.id, o.type,
               CASE WHEN o.customer_id IS NULL THEN 'm' || o.msisdn ELSE CAST(o.customer_id AS VARCHAR(20)) END,
               'pending', 0, %s, %s, ''
        FROM core_outboxevent o
        WHERE o.id > %s AND o.id <= %s {type_filter}
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
    """
    with connection.cursor() as cur:
        cur.execute(sql, [endpoint.pk, at, at, lo, hi, *types])
        written = max(cur.rowcount, 0)
        if written >= ANALYZE_AFTER and connection.vendor == "postgresql":
            # The claim's plan depends on the table's statistics: taken while it was small (or never), the planner
            # checks each claimed row's earlier deliveries by walking the backlog in event order (100 x slower at
            # 100k deliveries) instead of probing the customer index. Autovacuum comes later or, switched off,
            # never: a big fan-out refreshes them itself (ANALYZE samples 30k rows: ~0.1 s, not blocking writers).
            cur.execute("ANALYZE partners_delivery")
        return written


# ---------------------------------------------------------------------------------------------------- 2. claim
def claim_sql(*, lock: bool) -> str:
    """The claim's statement; parameters: endpoint id, time, time, window size, time, batch size.

    The due rows are read in event order through the partial index `partners_delivery_open_idx`, a window of 4
    batches, and only those are checked for an earlier open delivery of their customer (one probe each of
    `partners_delivery_customer_idx`): the claim costs the window, not the backlog — with the table's statistics
    current (see `_insert_deliveries`). The status and lease are tested on `d` again: a row another worker leased
    meanwhile is re-checked when locked."""
    return f"""
        SELECT d.id FROM partners_delivery d
        JOIN (SELECT c.id FROM partners_delivery c
              WHERE c.endpoint_id = %s AND c.status IN ('pending', 'failed') AND c.next_attempt_at <= %s
                AND (c.lease_until IS NULL OR c.lease_until < %s)
              ORDER BY c.event_id LIMIT %s) w ON w.id = d.id
        WHERE d.status IN ('pending', 'failed') AND (d.lease_until IS NULL OR d.lease_until < %s)
          AND NOT EXISTS (
              SELECT 1 FROM partners_delivery p
              WHERE p.endpoint_id = d.endpoint_id AND p.customer_key = d.customer_key
                AND p.status IN ('pending', 'failed') AND p.event_id < d.event_id)
        ORDER BY d.event_id
        LIMIT %s{" FOR UPDATE OF d SKIP LOCKED" if lock else ""}
    """


def claim(endpoint_id: int, *, at: dt.datetime, limit: int | None = None) -> list[Delivery]:
    """Lease up to `limit` due deliveries of the endpoint, each the head of its customer's line."""
    limit = limit or settings.VIPCLUB_WEBHOOK_BATCH
    sql = claim_sql(lock=connection.vendor == "postgresql")
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql, [endpoint_id, at, at, 4 * limit, at, limit])
            ids = [row[0] for row in cur.fetchall()]
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).update(
            lease_until=at + dt.timedelta(seconds=settings.VIPCLUB_WEBHOOK_LEASE)
        )
    return list(Delivery.objects.filter(pk__in=ids).order_by("event_id"))


# ---------------------------------------------------------------------------------------------------- 3. send
@dataclass
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_local = threading.local()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.VIPCLUB_WEBHOOK_THREADS, thread_name_prefix="webhook")
    return _pool


def _connection(scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    key = (scheme, host, port)
    conn = conns.get(key)
    if conn is None:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = conns[key] = cls(host, port, timeout=settings.VIPCLUB_WEBHOOK_TIMEOUT)
    return conn


def _drop(scheme: str, host: str, port: int | None) -> None:
    conn = getattr(_local, "conns", {}).pop((scheme, host, port), None)
    if conn is not None:
        conn.close()


def post(url: str, *, msg_id: str, body: bytes, signer: Webhook, at: dt.datetime) -> Answer:
    """POST one signed event; the answer's code, or the error, and the time it took."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {
        "content-type": "application/json",
        "user-agent": "vipclub-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signer.sign(msg_id, at, body.decode()),
    }
    started = time.perf_counter()
    for attempt in (1, 2):  # a kept-alive connection the server closed is retried once on a fresh one
        conn = _connection(parts.scheme, parts.hostname, parts.port)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)
            if response.will_close:
                _drop(parts.scheme, parts.hostname, parts.port)
            return Answer(response.status, "", int((time.perf_counter() - started) * 1000))
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            _drop(parts.scheme, parts.hostname, parts.port)
            if attempt == 2:
                return Answer(None, f"{type(exc).__name__}: {exc}"[:300], int((time.perf_counter() - started) * 1000))
        except (OSError, http.client.HTTPException) as exc:
            _drop(parts.scheme, parts.hostname, parts.port)
            return Answer(None, f"{type(exc).__name__}: {exc}"[:300], int((time.perf_counter() - started) * 1000))
    raise AssertionError("unreachable")


def send(endpoint: WebhookEndpoint, batch: list[Delivery], *, at: dt.datetime) -> dict[int, Answer]:
    """POST every delivery of the batch (distinct customers: in parallel); the answers by delivery id."""
    events = OutboxEvent.objects.in_bulk([d.event_id for d in batch])
    try:
        check_url(endpoint.url)
    except UnsafeUrl as exc:
        return {d.pk: Answer(None, f"refused: {exc}"[:300], 0) for d in batch}
    signer = Webhook(endpoint.secret)
    answers: dict[int, Answer] = {}
    jobs = {}
    for d in batch:
        event = events.get(d.event_id)
        if event is None:
            answers[d.pk] = Answer(None, "the event is no longer in the outbox", 0)
            continue
        body = json.dumps(event.as_message(), ensure_ascii=False, separators=(",", ":")).encode()
        jobs[d.pk] = _executor().submit(post, endpoint.url, msg_id=event.event_id, body=body, signer=signer, at=at)
    for pk, future in jobs.items():
        answers[pk] = future.result()
    return answers


def backoff(attempts: int, *, rng: random.Random = random) -> float:
    """Seconds before attempt `attempts + 1`: base·2^(attempts-1), capped, with jitter (half to full)."""
    delay = min(settings.VIPCLUB_WEBHOOK_BACKOFF_BASE * 2 ** (attempts - 1), settings.VIPCLUB_WEBHOOK_BACKOFF_CAP)
    return delay * (0.5 + rng.random() / 2)


def record(endpoint: WebhookEndpoint, batch: list[Delivery], answers: dict[int, Answer], *, at: dt.datetime) -> int:
    """Write the answers back in two statements (`UPDATE … FROM (VALUES …)`: bulk_update's CASE took seconds a
    batch); failures get their next attempt or are parked. The number delivered."""
    window = dt.timedelta(seconds=settings.VIPCLUB_WEBHOOK_RETRY_WINDOW)
    ok_rows, failed_rows = [], []
    for d in batch:
        answer = answers[d.pk]
        if answer.ok:
            ok_rows.append((d.pk, answer.status_code, answer.duration_ms))
            continue
        error = answer.error or f"HTTP {answer.status_code}"
        deadline = d.retry_from + window
        if at >= deadline:
            status, next_at = Delivery.Status.PARKED, d.next_attempt_at
        else:
            status, next_at = Delivery.Status.FAILED, min(at + dt.timedelta(seconds=backoff(d.attempts + 1)), deadline)
        failed_rows.append((d.pk, answer.status_code, answer.duration_ms, error, str(status), next_at))
    with transaction.atomic(), connection.cursor() as cur:
        if ok_rows:
            p = Params()
            rows = [f"({p(pk)}, {p(code)}, {p(ms)})" for pk, code, ms in ok_rows]
            cur.execute(
                f"""UPDATE partners_delivery SET status = 'delivered', attempts = attempts + 1, lease_until = NULL,
                       last_attempt_at = {p(at)}, delivered_at = {p(at)}, last_error = '',
                       last_status_code = CAST(v.code AS INTEGER), last_duration_ms = CAST(v.ms AS INTEGER)
                    FROM {p.d.values("v", ["id", "code", "ms"], rows)}
                    WHERE partners_delivery.id = CAST(v.id AS BIGINT)""",
                p,
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        if failed_rows:
            p = Params()
            ts = "CAST(v.next_at AS TIMESTAMP WITH TIME ZONE)" if p.d.postgres else "v.next_at"
            rows = [", ".join(p(v) for v in row) for row in failed_rows]
            cur.execute(
                f"""UPDATE partners_delivery SET status = v.status, attempts = attempts + 1, lease_until = NULL,
                       last_attempt_at = {p(at)}, next_attempt_at = {ts}, last_error = v.err,
                       last_status_code = CAST(v.code AS INTEGER), last_duration_ms = CAST(v.ms AS INTEGER)
                    FROM {p.d.values("v", ["id", "code", "ms", "err", "status", "next_at"], [f"({r})" for r in rows])}
                    WHERE partners_delivery.id = CAST(v.id AS BIGINT)""",
                p,
            )
            if not ok_rows:
                _count_failures(endpoint, len(failed_rows), last_error=failed_rows[-1][3], at=at)
    return len(ok_rows)


def _count_failures(endpoint: WebhookEndpoint, failed: int, *, last_error: str, at: dt.datetime) -> None:
    """A batch without any 2xx: the endpoint's failures in a row grow; past VIPCLUB_WEBHOOK_PAUSE_AFTER it is paused
    and the club admins are told."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + failed)
    failures = WebhookEndpoint.objects.values_list("consecutive_failures", flat=True).get(pk=endpoint.pk)
    if failures >= settings.VIPCLUB_WEBHOOK_PAUSE_AFTER:
        reason = f"{failures} failed attempts in a row (last: {last_error})"
        services.endpoint_pause(endpoint=endpoint, reason=reason, actor="system", at=at)


# ---------------------------------------------------------------------------------------------------- rounds
def deliver_round(endpoint: WebhookEndpoint, *, at: dt.datetime, limit: int | None = None) -> tuple[int, int]:
    """Claim, send and record one batch of the endpoint: (sent, delivered)."""
    batch = claim(endpoint.pk, at=at, limit=limit)
    if not batch:
        return 0, 0
    answers = send(endpoint, batch, at=at)
    return len(batch), record(endpoint, batch, answers, at=at)


def deliver(
    *, clock, budget: float | None = None, endpoint_id: int | None = None, limit_override: int | None = None
) -> dict:
    """Fan out, then send batches of every active endpoint until nothing is due (or `budget` seconds have passed).
    `clock()` gives the time of each round (entry points pass timezone.now; tests a fixed or moving time)."""
    started = time.monotonic()
    stats = {"fanned_out": fan_out(at=clock(), endpoint_id=endpoint_id), "sent": 0, "delivered": 0}
    endpoints = WebhookEndpoint.objects.filter(active=True)
    if endpoint_id:
        endpoints = endpoints.filter(pk=endpoint_id)
    busy = list(endpoints)
    while busy:
        for endpoint in list(busy):
            sent, delivered = deliver_round(endpoint, at=clock(), limit=limit_override)
            stats["sent"] += sent
            stats["delivered"] += delivered
            if not sent:
                busy.remove(endpoint)
            else:
                endpoint.refresh_from_db(fields=["active", "url", "secret"])
                if not endpoint.active:
                    busy.remove(endpoint)
        if budget is not None and time.monotonic() - started > budget:
            stats["more"] = True
            break
    return stats
