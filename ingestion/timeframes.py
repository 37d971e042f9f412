"""Alpaca timeframe strings (`1Hour`, `1Day`, …): parsing, bar length and grid alignment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

_PATTERN = re.compile(r"^(\d+)(Min|Hour|Day|Week|Month)$")
_UNITS = {
    "Min": TimeFrameUnit.Minute,
    "Hour": TimeFrameUnit.Hour,
    "Day": TimeFrameUnit.Day,
    "Week": TimeFrameUnit.Week,
    "Month": TimeFrameUnit.Month,
}


@dataclass(frozen=True)
class Timeframe:
    """A bar size such as 1Hour; intraday bars sit on a UTC grid, daily ones at midnight ET."""

    amount: int
    unit: str

    @property
    def name(self) -> str:
        """The Alpaca spelling, e.g. `1Hour`."""
        return f"{self.amount}{self.unit}"

    @property
    def is_intraday(self) -> bool:
        """True for minute and hour bars."""
        return self.unit in ("Min", "Hour")

    @property
    def length(self) -> timedelta:
        """The nominal length of one bar (a day for daily and longer bars' grid checks)."""
        if self.unit == "Min":
            return timedelta(minutes=self.amount)
        if self.unit == "Hour":
            return timedelta(hours=self.amount)
        return timedelta(days=self.amount)

    def to_alpaca(self) -> TimeFrame:
        """The alpaca-py TimeFrame."""
        return TimeFrame(self.amount, _UNITS[self.unit])


def parse_timeframe(value: str) -> Timeframe:
    """Parse `1Hour`, `15Min`, `1Day`…; a bad value is named in the error."""
    match = _PATTERN.match(value.strip())
    if not match:
        raise ValueError(
            f"timeframe {value!r} is not valid: use e.g. 1Min, 15Min, 1Hour, 1Day, 1Week, 1Month"
        )
    amount, unit = int(match.group(1)), match.group(2)
    limits = {"Min": 59, "Hour": 23, "Day": 1, "Week": 1, "Month": 12}
    if not 1 <= amount <= limits[unit]:
        raise ValueError(f"timeframe {value!r} is not valid: {unit} takes 1 to {limits[unit]}")
    return Timeframe(amount, unit)
