"""Client-side rate limits: at most N Alpaca requests per rolling 60 s, in-process or via Redis."""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

from loguru import logger

from config.settings import Settings

WINDOW_SECONDS = 60.0
KEY_PREFIX = "trading:ratelimit:"

# KEYS[1]: the sorted set of request times; ARGV: now, window, limit, a unique member.
# Returns "0" when the request was counted, else the seconds until the oldest one leaves the
# window (as text: Redis would truncate a Lua number to an integer).
_SLIDING_LOG = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RateLimiter(ABC):
    """At most `limit` acquisitions per rolling `window` seconds."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be >= 1 per window, got {limit}")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep

    def acquire(self) -> float:
        """Block until a request may be sent and count it; returns the seconds waited."""
        waited = 0.0
        while (wait := self._try_acquire(self.clock())) > 0:
            logger.bind(limit=self.limit, wait=wait).info(
                "rate limit of {} per {:.0f}s reached; waiting {:.2f}s",
                self.limit,
                self.window,
                wait,
            )
            self.sleep(wait)
            waited += wait
        return waited

    @abstractmethod
    def _try_acquire(self, now: float) -> float:
        """Count a request at `now` and return 0, or return how long until a slot frees."""


class LocalRateLimiter(RateLimiter):
    """A thread-safe sliding log for one process.

    The clock defaults to `time.monotonic`, which a wall-clock step cannot stall.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(limit, window=window, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()

    def _try_acquire(self, now: float) -> float:
        with self._lock:
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return 0.0
            return self._sent[0] + self.window - now


class RedisRateLimiter(RateLimiter):
    """A sliding log in a Redis sorted set, so every process using `key` shares one budget.

    Times come from this client's `clock` (wall time by default, comparable across processes);
    the connection is opened on the first acquire, not at construction.
    """

    def __init__(
        self,
        redis_url: str,
        key: str,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(limit, window=window, clock=clock, sleep=sleep)
        self.redis_url = redis_url
        self.key = key
        self._script: Any = None

    def _try_acquire(self, now: float) -> float:
        if self._script is None:
            import redis

            self._script = redis.Redis.from_url(self.redis_url).register_script(_SLIDING_LOG)
        args = [repr(now), repr(self.window), self.limit, uuid.uuid4().hex]
        return float(self._script(keys=[self.key], args=args))


def rate_limiter(settings: Settings, name: str = "alpaca") -> RateLimiter:
    """ALPACA_RATE_LIMIT_PER_MINUTE as a limiter: shared through Redis when REDIS_URL is set.

    The Redis key is `trading:ratelimit:<name>`; without Redis the budget is this process's own.
    """
    limit = settings.alpaca_rate_limit_per_minute
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, KEY_PREFIX + name, limit)
    return LocalRateLimiter(limit)
