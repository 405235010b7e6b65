"""Whether an open event stream may go on: its session still logs its customer in, and it is among
the customer's newest CHAT_STREAMS_PER_CUSTOMER streams.

The session is judged as Django's `get_user` judges it on every request (the session exists and names
the user, the user may log in, the session's auth hash matches the password), but read only: a stream
never writes the session. The streams of a customer are counted in Redis (every web process sees
them) or, without Redis, in this process. Opening one more than the limit evicts the oldest; a stream
that died without a word stops counting once it misses STALE_HEARTBEATS heartbeats. With Redis down
the limit is not enforced (streams must keep working), and that is logged at most once a minute.
"""

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib import import_module

import redis
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare, salted_hmac

from channels_io import push

logger = logging.getLogger(__name__)

KEY_PREFIX = "loophole:chat:streams"
STALE_HEARTBEATS = 3
RETRY_REDIS_AFTER = 10  # seconds without asking a Redis that failed (each try may wait for its timeout)

# Register or refresh one stream, atomically. KEYS: the customer's streams by opening time, by last
# heartbeat, and the evicted ones by eviction time. ARGV: token, opened_at, now, stale_before, limit, ttl.
# Returns the tokens evicted now, or this stream's own token when it was evicted before.
_HOLD = """
local opened, seen, evicted = KEYS[1], KEYS[2], KEYS[3]
local token, stale, limit = ARGV[1], ARGV[4], tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', evicted, '-inf', stale)
if redis.call('ZSCORE', evicted, token) then
  return {token}
end
local dead = redis.call('ZRANGEBYSCORE', seen, '-inf', stale)
if #dead > 0 then
  redis.call('ZREM', opened, unpack(dead))
  redis.call('ZREM', seen, unpack(dead))
end
redis.call('ZADD', opened, 'NX', ARGV[2], token)
redis.call('ZADD', seen, ARGV[3], token)
local over = redis.call('ZRANGE', opened, 0, -(limit + 1))
if #over > 0 then
  redis.call('ZREM', opened, unpack(over))
  redis.call('ZREM', seen, unpack(over))
  for _, gone in ipairs(over) do
    redis.call('ZADD', evicted, ARGV[3], gone)
  end
end
for _, key in ipairs(KEYS) do
  redis.call('EXPIRE', key, ARGV[6])
end
return over
"""

_lock = threading.Lock()
_local: dict[int, dict[str, list[float]]] = {}  # without Redis: customer -> token -> [opened_at, seen_at]
_local_evicted: dict[int, dict[str, float]] = {}
_scripts: dict[str, object] = {}
_down_until: dict[str, float] = {}  # per Redis URL
_warned_at: dict[str, float] = {}


def session_digest(session_key: str) -> str:
    """What a logout notice names a session by (its key never leaves the process)."""
    return salted_hmac("channels_io.chat.leases", session_key).hexdigest()[:32]


@dataclass
class Lease:
    """One open stream of one customer, on one session."""

    customer_id: int
    session_key: str
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    opened_at: float = field(default_factory=time.time)

    @property
    def session(self) -> str:
        return session_digest(self.session_key)


def logged_in(session_key: str, customer_id: int) -> bool:
    """Whether this session still logs this customer in (two reads: the session, the user)."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    backend_path = data.get(auth.BACKEND_SESSION_KEY)
    if backend_path not in settings.AUTHENTICATION_BACKENDS or auth.SESSION_KEY not in data:
        return False
    try:
        user_id = get_user_model()._meta.pk.to_python(data[auth.SESSION_KEY])
    except ValidationError:
        return False
    if user_id != customer_id:
        return False
    user = auth.load_backend(backend_path).get_user(user_id)  # None when inactive
    if user is None:
        return False
    session_hash = data.get(auth.HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return bool(session_hash) and any(constant_time_compare(session_hash, h) for h in hashes)


def _stale_seconds() -> float:
    return STALE_HEARTBEATS * settings.CHAT_STREAM_HEARTBEAT_SECONDS + 5


def hold(lease: Lease) -> bool:
    """Register the stream or, already registered, note that it is alive. False when newer streams
    have evicted it. Evicts (and tells) the streams beyond the limit, oldest first."""
    now = time.time()
    evicted = _hold_in_redis(lease, now) if settings.REDIS_URL else _hold_here(lease, now)
    if evicted is None:
        return True  # Redis is down: fail open
    others = [token for token in evicted if token != lease.token]
    if others:
        logger.info("chat: %d stream(s) of customer %s closed by a newer one", len(others), lease.customer_id)
        push.notify(lease.customer_id, {"notice": "evict", "about": others})
    return lease.token not in evicted


def release(lease: Lease) -> None:
    """The stream has ended: it no longer counts."""
    if not settings.REDIS_URL:
        with _lock:
            streams = _local.get(lease.customer_id, {})
            streams.pop(lease.token, None)
            if not streams:
                _local.pop(lease.customer_id, None)
                _local_evicted.pop(lease.customer_id, None)
        return
    if _is_down():
        return  # counted out once stale
    try:
        with push.redis_client().pipeline(transaction=False) as pipe:
            for key in _keys(lease.customer_id)[:2]:
                pipe.zrem(key, lease.token)
            pipe.execute()
    except (redis.RedisError, OSError):
        _unavailable()


def _keys(customer_id: int) -> list[str]:
    return [f"{KEY_PREFIX}:{customer_id}:{name}" for name in ("opened", "seen", "evicted")]


def _hold_in_redis(lease: Lease, now: float) -> list[str] | None:
    if _is_down():
        return None
    client = push.redis_client()
    script = _scripts.get(settings.REDIS_URL)
    if script is None:
        script = _scripts[settings.REDIS_URL] = client.register_script(_HOLD)
    stale = _stale_seconds()
    args = [lease.token, lease.opened_at, now, now - stale, settings.CHAT_STREAMS_PER_CUSTOMER, int(stale) + 1]
    try:
        evicted = script(keys=_keys(lease.customer_id), args=args)  # type: ignore[operator]  # redis-py types register_script()'s result loosely
    except (redis.RedisError, OSError):
        _unavailable()
        return None
    return [token.decode() if isinstance(token, bytes) else str(token) for token in evicted]


def _hold_here(lease: Lease, now: float) -> list[str]:
    """As the script does, in this process's memory."""
    stale_before = now - _stale_seconds()
    with _lock:
        streams = _local.setdefault(lease.customer_id, {})
        evicted = _local_evicted.setdefault(lease.customer_id, {})
        for token, at in list(evicted.items()):
            if at <= stale_before:
                del evicted[token]
        if lease.token in evicted:
            return [lease.token]
        for token, (_opened, seen) in list(streams.items()):
            if seen <= stale_before:
                del streams[token]
        streams.setdefault(lease.token, [lease.opened_at, now])[1] = now
        oldest_first = sorted(streams, key=lambda token: (streams[token][0], token))
        over = oldest_first[: max(0, len(oldest_first) - settings.CHAT_STREAMS_PER_CUSTOMER)]
        for token in over:
            del streams[token]
            evicted[token] = now
        if not streams:
            del _local[lease.customer_id]
        if not evicted:
            del _local_evicted[lease.customer_id]
    return over


def _is_down() -> bool:
    return time.monotonic() < _down_until.get(settings.REDIS_URL, 0.0)


def _unavailable() -> None:
    url, now = settings.REDIS_URL, time.monotonic()
    _down_until[url] = now + RETRY_REDIS_AFTER
    if now - _warned_at.get(url, -60.0) > 60:
        _warned_at[url] = now
        logger.warning("chat: Redis is unavailable, open streams per customer are not limited")
