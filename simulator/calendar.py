"""NYSE regular sessions (exchange_calendars XNYS) as cached numpy arrays of UTC epoch seconds."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

NEW_YORK = ZoneInfo("America/New_York")
FIRST_SESSION = date(2015, 1, 2)
LAST_SESSION = date(2035, 12, 31)

IntArray = npt.NDArray[np.int64]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Session:
    """One regular trading session; `open` and `close` are UTC."""

    date: date
    open: datetime
    close: datetime

    @property
    def is_early_close(self) -> bool:
        """True when the session closes before 16:00 New York time."""
        return self.close.astimezone(NEW_YORK).time() < time(16, 0)


@dataclass(frozen=True)
class _Schedule:
    days: IntArray  # days since 1970-01-01 of each session date
    opens: IntArray  # UTC epoch seconds
    closes: IntArray
    midnights: IntArray  # 00:00 New York on the session date, as UTC epoch seconds


@functools.cache
def _load_schedule(first: date, last: date) -> _Schedule:
    """Read the XNYS schedule once per process (slow: imports pandas)."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars itself still reads Series.values, which pandas deprecates.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        xnys = xcals.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())
    sched = xnys.schedule

    def epoch_seconds(column: str) -> IntArray:
        """One schedule column as UTC epoch seconds."""
        naive_utc = sched[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return naive_utc.astype("datetime64[s]").astype(np.int64)

    days = sched.index.to_numpy().astype("datetime64[D]").astype(np.int64)
    midnights = np.array(
        [
            int(
                datetime.combine(
                    date.fromordinal(int(d) + _EPOCH_ORDINAL), time(0), NEW_YORK
                ).timestamp()
            )
            for d in days
        ],
        dtype=np.int64,
    )
    return _Schedule(days, epoch_seconds("open"), epoch_seconds("close"), midnights)


def _epoch(t: datetime) -> float:
    """UTC epoch seconds of an aware datetime."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()} is not allowed; use UTC")
    return t.timestamp()


def from_epoch(seconds: float) -> datetime:
    """Aware UTC datetime from epoch seconds (microsecond precision)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(seconds * 1_000_000))


def from_epoch_micros(micros: int) -> datetime:
    """Aware UTC datetime from integer epoch microseconds."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


class MarketCalendar:
    """NYSE regular sessions between FIRST_SESSION and LAST_SESSION; open is [open, close)."""

    def __init__(self, first: date = FIRST_SESSION, last: date = LAST_SESSION) -> None:
        self.first = first
        self.last = last

    @property
    def _s(self) -> _Schedule:
        return _load_schedule(self.first, self.last)

    @property
    def opens(self) -> IntArray:
        """Session opens, UTC epoch seconds."""
        return self._s.opens

    @property
    def closes(self) -> IntArray:
        """Session closes, UTC epoch seconds."""
        return self._s.closes

    @property
    def days(self) -> IntArray:
        """Session dates as days since 1970-01-01."""
        return self._s.days

    @property
    def midnights(self) -> IntArray:
        """00:00 New York of each session date, UTC epoch seconds (daily bar stamps)."""
        return self._s.midnights

    def __len__(self) -> int:
        return len(self._s.days)

    def session(self, index: int) -> Session:
        """The session at `index` (0 = FIRST_SESSION)."""
        s = self._s
        return Session(
            date=date.fromordinal(int(s.days[index]) + _EPOCH_ORDINAL),
            open=from_epoch(float(s.opens[index])),
            close=from_epoch(float(s.closes[index])),
        )

    def sessions_between(self, start: date, end: date) -> list[Session]:
        """Sessions whose date lies in [start, end]."""
        lo = int(np.searchsorted(self._s.days, _day_number(start), side="left"))
        hi = int(np.searchsorted(self._s.days, _day_number(end), side="right"))
        return [self.session(i) for i in range(lo, hi)]

    def session_on(self, day: date) -> Session | None:
        """The session on `day`, or None for a weekend or holiday."""
        found = self.sessions_between(day, day)
        return found[0] if found else None

    def index_at(self, t: datetime) -> int | None:
        """Index of the session that is open at `t`, or None when the market is closed."""
        x = _epoch(t)
        i = int(np.searchsorted(self._s.opens, x, side="right")) - 1
        if i >= 0 and x < self._s.closes[i]:
            return i
        return None

    def is_open(self, t: datetime) -> bool:
        """True inside a regular session."""
        return self.index_at(t) is not None

    def next_open_index(self, t: datetime) -> int:
        """Index of the first session that opens strictly after `t`."""
        i = int(np.searchsorted(self._s.opens, _epoch(t), side="right"))
        if i >= len(self._s.opens):
            raise ValueError(f"{t.isoformat()} is beyond the simulated calendar end {self.last}")
        return i

    def next_open(self, t: datetime) -> datetime:
        """The first session open strictly after `t`."""
        return from_epoch(float(self._s.opens[self.next_open_index(t)]))

    def next_close(self, t: datetime) -> datetime:
        """The first session close strictly after `t` (today's close while open)."""
        i = int(np.searchsorted(self._s.closes, _epoch(t), side="right"))
        if i >= len(self._s.closes):
            raise ValueError(f"{t.isoformat()} is beyond the simulated calendar end {self.last}")
        return from_epoch(float(self._s.closes[i]))

    def last_index_before(self, day: date) -> int | None:
        """Index of the last session dated strictly before `day`, or None."""
        i = int(np.searchsorted(self._s.days, _day_number(day), side="left")) - 1
        return i if i >= 0 else None

    def next_session_after(self, day: date) -> Session | None:
        """The first session dated strictly after `day`."""
        i = int(np.searchsorted(self._s.days, _day_number(day), side="right"))
        return self.session(i) if i < len(self._s.days) else None


def _day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


def ny_date(t: datetime) -> date:
    """The New York calendar date of `t`."""
    return t.astimezone(NEW_YORK).date()
