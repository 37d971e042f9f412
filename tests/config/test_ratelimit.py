"""Rate limiters: N requests per rolling minute, in-process and shared through real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from config.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter, rate_limiter
from config.settings import Settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class FakeTime:
    """A clock that only moves when `sleep` is called, recording every requested wait."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def redis_key() -> Iterator[str]:
    """A key no other test uses, deleted afterwards."""
    key = f"trading:ratelimit:test-{uuid.uuid4().hex}"
    yield key
    redis.Redis.from_url(REDIS_URL).delete(key)


MakeLimiter = Callable[[int, FakeTime], RateLimiter]


@pytest.fixture(params=["local", "redis"])
def make_limiter(request: pytest.FixtureRequest, redis_key: str) -> MakeLimiter:
    """Build either limiter on a fake clock (Redis ones all share the test's key)."""

    def build(limit: int, time: FakeTime) -> RateLimiter:
        if request.param == "local":
            return LocalRateLimiter(limit, clock=time.clock, sleep=time.sleep)
        return RedisRateLimiter(REDIS_URL, redis_key, limit, clock=time.clock, sleep=time.sleep)

    return build


def test_requests_within_the_limit_do_not_wait(make_limiter: MakeLimiter) -> None:
    time = FakeTime()
    limiter = make_limiter(3, time)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert time.waits == []


def test_the_request_over_the_limit_waits_until_the_oldest_leaves_the_window(
    make_limiter: MakeLimiter,
) -> None:
    time = FakeTime()
    start = time.now
    limiter = make_limiter(3, time)
    for _ in range(3):
        limiter.acquire()
        time.now += 10
    # Sent at +0, +10, +20; now +30: the first leaves the 60 s window at +60.
    assert limiter.acquire() == pytest.approx(30.0)
    assert time.waits == [pytest.approx(30.0)]
    assert time.now == pytest.approx(start + 60)


def test_the_window_slides(make_limiter: MakeLimiter) -> None:
    time = FakeTime()
    limiter = make_limiter(2, time)
    limiter.acquire()
    time.now += 45
    limiter.acquire()
    time.now += 20  # the first request is now 65 s old, the second 20 s
    assert limiter.acquire() == 0.0
    # The budget is full again (sent at +45 and +65): the next waits for +45 to expire.
    assert limiter.acquire() == pytest.approx(40.0)


def test_two_redis_limiters_share_one_budget(redis_key: str) -> None:
    time = FakeTime()
    first = RedisRateLimiter(REDIS_URL, redis_key, 3, clock=time.clock, sleep=time.sleep)
    second = RedisRateLimiter(REDIS_URL, redis_key, 3, clock=time.clock, sleep=time.sleep)
    first.acquire()
    first.acquire()
    time.now += 5
    assert second.acquire() == 0.0
    # Three sent (two at +0 by one, one at +5 by the other): the fourth waits until +60.
    assert first.acquire() == pytest.approx(55.0)
    assert time.waits == [pytest.approx(55.0)]


def test_a_burst_goes_out_one_window_at_a_time(make_limiter: MakeLimiter) -> None:
    time = FakeTime()
    limiter = make_limiter(5, time)
    waits = [limiter.acquire() for _ in range(12)]
    assert waits == [0.0] * 5 + [pytest.approx(60.0)] + [0.0] * 4 + [pytest.approx(60.0), 0.0]


def test_threads_sharing_a_local_limiter_are_counted_exactly() -> None:
    time = FakeTime()
    limiter = LocalRateLimiter(40, clock=time.clock, sleep=time.sleep)
    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = list(pool.map(lambda _: limiter.acquire(), range(40)))
    assert waits == [0.0] * 40
    assert limiter.acquire() == pytest.approx(60.0)  # a lost count would let this one through


def test_settings_choose_redis_when_a_url_is_set_without_connecting(tmp_path: Path) -> None:
    unreachable = Settings(
        redis_url="redis://127.0.0.1:1/0", alpaca_rate_limit_per_minute=7, trading_home=tmp_path
    )
    limiter = rate_limiter(unreachable, name="orders")
    assert isinstance(limiter, RedisRateLimiter)
    assert (limiter.key, limiter.limit) == ("trading:ratelimit:orders", 7)
    with pytest.raises(redis.ConnectionError):
        limiter.acquire()  # the connection is first opened here


def test_settings_without_redis_give_a_local_limiter(tmp_path: Path) -> None:
    limiter = rate_limiter(Settings(redis_url=None, trading_home=tmp_path))
    assert isinstance(limiter, LocalRateLimiter)
    assert limiter.limit == 190
