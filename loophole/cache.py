"""One Redis connection pool per URL for the whole process.

Django keeps a cache object per request context, and under the ASGI server every request is a new
context: with redis-py's plain pool each request would open (and leak until garbage collection) a
connection of its own.
"""

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _pools: dict[tuple[str, tuple[tuple[str, Any], ...]], "SharedConnectionPool"] = {}
    _pools_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "SharedConnectionPool":
        key = (url, tuple(sorted(kwargs.items())))
        with cls._pools_lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **kwargs)
            return pool
