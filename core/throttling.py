"""API throttling: a request count per fixed time window, per API client (token), per person (session) and per
address for anonymous requests (the health endpoint).

Rates come from `settings.VIPCLUB_THROTTLE_RATES` (`{"token": "6000/min", "user": …, "anon": …}`, set from the
environment), read at every request; an empty or missing rate switches that scope off. The counts live in the
cache (Redis in production, shared by every gunicorn worker): one round trip per request (`SET NX` and `INCR`
in one pipeline), whatever the rate. When the cache is unreachable the request is let through — throttling must never take the API down with
Redis (tests/test_faults.py). A refusal is DRF's `Throttled`: 429 in the error shape with `Retry-After`
(core.api.exception_handler).
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WARN_EVERY = 60.0  # seconds between two "cache unavailable" warnings of one process
_last_warning = 0.0


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """`"120/min"` -> (120, 60); empty or None -> None (not throttled). Periods: s, min, hour, day (first letter)."""
    if not rate:
        return None
    number, _, period = str(rate).partition("/")
    try:
        limit, seconds = int(number), _PERIODS[period.strip().lower()[:1]]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"Bad throttle rate {rate!r}: use N/s, N/min, N/hour or N/day.") from None
    if limit < 1:
        raise ImproperlyConfigured(f"Bad throttle rate {rate!r}: at least 1 request per period.")
    return limit, seconds


def _warn_unavailable(scope: str, exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY:
        _last_warning = now
        logger.warning("Throttling (%s) skipped: the cache is unavailable (%s: %s)", scope, type(exc).__name__, exc)


def _count(cache, key: str, timeout: int) -> int:
    """Count one more request under `key` (created with `timeout` seconds to live): the new count. On Redis one
    round trip (a pipeline of `SET key 0 EX timeout NX` and `INCR key`); on another cache `add` then `incr`."""
    if isinstance(cache, RedisCache):
        key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key)


class _WindowRateThrottle(BaseThrottle):
    scope = ""

    def identity(self, request) -> str | None:
        """Whom to count, or None when this throttle does not apply to the request."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self.retry_after = None
        rate = parse_rate(getattr(settings, "VIPCLUB_THROTTLE_RATES", {}).get(self.scope))
        if rate is None:
            return True
        who = self.identity(request)
        if who is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{who}:{period}:{window}"
        try:
            count = _count(caches[getattr(settings, "VIPCLUB_THROTTLE_CACHE", "default")], key, period + 1)
        except ValueError:  # the key expired between add and incr: a new window has begun
            return True
        except Exception as exc:  # noqa: BLE001 - Redis down: serve rather than refuse
            _warn_unavailable(self.scope, exc)
            return True
        if count <= limit:
            return True
        self.retry_after = max((window + 1) * period - now, 1.0)
        return False

    def wait(self) -> float | None:
        return self.retry_after


class TokenRateThrottle(_WindowRateThrottle):
    """Other systems, authenticated by their token: counted per client account."""

    scope = "token"

    def identity(self, request):
        if request.user and request.user.is_authenticated and request.auth is not None:
            return str(request.user.pk)
        return None


class UserRateThrottle(_WindowRateThrottle):
    """People, authenticated by their session: counted per user."""

    scope = "user"

    def identity(self, request):
        if request.user and request.user.is_authenticated and request.auth is None:
            return str(request.user.pk)
        return None


class AnonRateThrottle(_WindowRateThrottle):
    """Anonymous requests (the health endpoint): counted per client address (`X-Forwarded-For` behind a proxy,
    see `NUM_PROXIES`)."""

    scope = "anon"

    def identity(self, request):
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)
