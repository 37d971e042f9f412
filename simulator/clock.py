"""A thread-safe simulated clock that runs at a chosen speed and never goes backwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _require_aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC, refusing naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_speed(speed: float) -> float:
    """Return `speed` as a float, refusing negative or non-finite values."""
    speed = float(speed)
    if not speed >= 0.0 or speed == float("inf"):
        raise ValueError(f"speed must be a finite number >= 0, got {speed}")
    return speed


class SimClock:
    """Simulated time: `now() = anchor + real elapsed seconds x speed`; speed 0 freezes it."""

    def __init__(
        self,
        start: datetime,
        speed: float = 0.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._anchor_sim = _require_aware(start, "start")
        self._anchor_real = monotonic()
        self._speed = _require_speed(speed)

    def _now_locked(self) -> datetime:
        elapsed = (self._monotonic() - self._anchor_real) * self._speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def _reanchor_locked(self, to: datetime) -> None:
        self._anchor_sim = to
        self._anchor_real = self._monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        with self._lock:
            return self._speed

    def now(self) -> datetime:
        """Current simulated time (UTC)."""
        with self._lock:
            return self._now_locked()

    def set(self, to: datetime) -> datetime:
        """Jump to `to`; refuse with ValueError if that is earlier than now."""
        target = _require_aware(to, "to")
        with self._lock:
            current = self._now_locked()
            if target < current:
                raise ValueError(
                    f"clock cannot go backwards: requested {target.isoformat()} "
                    f"is before now {current.isoformat()}"
                )
            self._reanchor_locked(target)
            return target

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (>= 0) and return the new time."""
        if not seconds >= 0:
            raise ValueError(f"clock cannot go backwards: advance_seconds={seconds} is negative")
        with self._lock:
            target = self._now_locked() + timedelta(seconds=seconds)
            self._reanchor_locked(target)
            return target

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without moving the current time."""
        new_speed = _require_speed(speed)
        with self._lock:
            self._reanchor_locked(self._now_locked())
            self._speed = new_speed
