"""Fixed-window counters in the cache: per-IP request limits and log-in failures.

`hit()` costs one round trip to Redis (INCR and EXPIRE in one pipeline) or, without Redis, two
calls to the in-memory cache. Windows are numbered by wall-clock time, so a counter needs no reset:
the next window has another key. When Redis is down the limits are not enforced (every request
would otherwise fail), and that is logged at most once a minute.
"""

import functools
import ipaddress
import logging
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from loophole.cache import SharedConnectionPool

logger = logging.getLogger(__name__)

KEY_PREFIX = "loophole:rl"
_warned_at = 0.0


def client_ip(request: HttpRequest) -> str:
    """The client's address (REMOTE_ADDR, which loophole.proxies sets from a trusted proxy's
    X-Forwarded-For). An IPv6 client counts as its /64 network, which one host usually has to itself."""
    ip = request.META.get("REMOTE_ADDR") or "unknown"
    if ":" in ip:
        try:
            return f"{ipaddress.IPv6Network(f'{ip}/64', strict=False).network_address}/64"
        except ValueError:
            return ip
    return ip


def _redis() -> redis.Redis | None:
    """A client on the connection pool Django's Redis cache uses (same URL and options), or None
    when the cache is not Redis."""
    default = settings.CACHES["default"]
    if not default["BACKEND"].endswith(".RedisCache"):
        return None
    return _client(default["LOCATION"])


@functools.cache
def _client(location: str) -> redis.Redis:
    """One client per URL and process (a client is thread-safe; making one per request cost ≈2 % of
    the web processes' CPU in bench/chat.py)."""
    pool = SharedConnectionPool.from_url(location, parser_class=redis.connection.DefaultParser)
    return redis.Redis(connection_pool=pool)


def _key(bucket: str, ident: str, window: int, now: float) -> str:
    return f"{KEY_PREFIX}:{bucket}:{ident}:{int(now // window)}"


def hit(bucket: str, ident: str, window: int) -> tuple[int, int]:
    """Count one event for `ident` in `bucket`'s current window of `window` seconds.

    Returns the count in this window, this one included (0 when it could not be counted), and the
    seconds until the window ends (what a Retry-After says).
    """
    now = time.time()
    retry_after = max(1, int(window - now % window + 0.999))
    try:
        return _increment(_key(bucket, ident, window, now), window + 5), retry_after
    except (redis.RedisError, OSError):
        warn_unavailable()
        return 0, retry_after


def peek(bucket: str, ident: str, window: int) -> int:
    """The count in `bucket`'s current window, without counting."""
    key = _key(bucket, ident, window, time.time())
    try:
        client = _redis()
        value = client.get(key) if client is not None else cache.get(key)
    except (redis.RedisError, OSError):
        warn_unavailable()
        return 0
    return int(value or 0)


def forget(bucket: str, ident: str, window: int, *, strict: bool = False) -> None:
    """Drop the count of `bucket`'s current window (a successful log-in clears its failures). With
    `strict`, a cache that cannot be reached raises instead of being warned about."""
    key = _key(bucket, ident, window, time.time())
    try:
        client = _redis()
        if client is not None:
            client.delete(key)
        else:
            cache.delete(key)
    except (redis.RedisError, OSError):
        if strict:
            raise
        warn_unavailable()


def _increment(key: str, timeout: int) -> int:
    client = _redis()
    if client is not None:
        with client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, timeout)
            count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=timeout)
        return 1


def warn_unavailable() -> None:
    global _warned_at
    if time.monotonic() - _warned_at > 60:
        _warned_at = time.monotonic()
        logger.warning("rate limits: the cache is unavailable, limits are not enforced")
