"""Tests for the simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulator.clock import SimClock

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)


class FakeMonotonic:
    """A controllable stand-in for time.monotonic (real elapsed seconds)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_speed_zero_freezes_time() -> None:
    real = FakeMonotonic()
    clock = SimClock(START, speed=0.0, monotonic=real)
    real.value += 3600
    assert clock.now() == START


def test_now_runs_at_speed_times_real_elapsed() -> None:
    real = FakeMonotonic()
    clock = SimClock(START, speed=60.0, monotonic=real)
    real.value += 2.5
    assert clock.now() == START + timedelta(seconds=150)


def test_changing_speed_keeps_the_current_time() -> None:
    real = FakeMonotonic()
    clock = SimClock(START, speed=10.0, monotonic=real)
    real.value += 1
    clock.set_speed(0.0)
    real.value += 100
    assert clock.now() == START + timedelta(seconds=10)
    assert clock.speed == 0.0


def test_advance_and_set_move_forward() -> None:
    clock = SimClock(START)
    assert clock.advance(90) == START + timedelta(seconds=90)
    target = START + timedelta(days=1)
    clock.set(target)
    assert clock.now() == target


def test_setting_an_earlier_time_is_refused_naming_both_times() -> None:
    clock = SimClock(START)
    earlier = START - timedelta(minutes=1)
    with pytest.raises(ValueError, match="backwards") as info:
        clock.set(earlier)
    assert earlier.isoformat() in str(info.value)
    assert START.isoformat() in str(info.value)
    assert clock.now() == START


def test_negative_advance_is_refused() -> None:
    clock = SimClock(START)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_naive_start_and_negative_speed_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2024, 1, 3, 15, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="speed"):
        SimClock(START, speed=-1)


def test_now_is_utc_even_when_started_with_another_offset() -> None:
    clock = SimClock(START.astimezone(ZoneInfo("America/New_York")))
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now() == START
