"""Alpaca wire format helpers: the API error, decimal and timestamp formatting and parsing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from simulator.calendar import NEW_YORK

# Error codes used by the simulator (Alpaca's 8-digit scheme: HTTP status then a sub-code).
CODE_BAD_REQUEST = 40010000
CODE_INVALID = 40010001
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_METHOD_NOT_ALLOWED = 40510000
CODE_UNPROCESSABLE = 42210000
CODE_INTERNAL = 50010000

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ApiError(Exception):
    """An error that the HTTP layer renders as `{"code": ..., "message": ..., **extra}`."""

    def __init__(self, status: int, code: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the error."""
        return {**self.extra, "code": self.code, "message": self.message}


def invalid(message: str) -> ApiError:
    """A 422 validation error with code 40010001."""
    return ApiError(422, CODE_INVALID, message)


def unprocessable(message: str) -> ApiError:
    """A 422 error with code 42210000 (bad parameter values, sub-penny prices, timeframes)."""
    return ApiError(422, CODE_UNPROCESSABLE, message)


def fmt_decimal(value: Decimal) -> str:
    """A Decimal as a plain string without exponent or trailing zeros: `10`, `185.12`."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def fmt_money(value: Decimal, places: int = 10) -> str:
    """A Decimal rounded to at most `places` decimals, formatted with fmt_decimal."""
    return fmt_decimal(value.quantize(Decimal(1).scaleb(-places)))


def fmt_utc(value: datetime) -> str:
    """RFC-3339 UTC with microseconds and a `Z`: `2024-01-02T14:30:00.123456Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_utc_seconds(epoch_seconds: int) -> str:
    """A bar timestamp: `2024-01-02T14:00:00Z`."""
    stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(epoch_seconds))
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_new_york(value: datetime) -> str:
    """RFC-3339 in America/New_York with its offset, as /v2/clock reports."""
    return value.astimezone(NEW_YORK).isoformat()


def parse_timestamp(value: str, field: str, *, end_of_day: bool = False) -> datetime:
    """Parse RFC-3339 (`Z`, offsets, fractions) or `YYYY-MM-DD`; naive values are UTC.

    A bare date means 00:00 New York, or the last microsecond of that New York day when
    `end_of_day` is set, so that an inclusive `end=YYYY-MM-DD` covers the whole session.
    """
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            if end_of_day:
                midnight = datetime.combine(day + timedelta(days=1), time(0), NEW_YORK)
                return midnight.astimezone(UTC) - timedelta(microseconds=1)
            return datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError as exc:
        raise unprocessable(f"invalid {field}: {value}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: str, field: str) -> date:
    """Parse `YYYY-MM-DD` (or the date part of an RFC-3339 timestamp)."""
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as exc:
        raise unprocessable(f"invalid {field}: {value}") from exc


def parse_decimal(value: Any, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"invalid {field}: {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise invalid(f"invalid {field}: {value!r}") from exc
    if not number.is_finite():
        raise invalid(f"invalid {field}: {value!r}")
    return number


def parse_bool(value: Any, field: str) -> bool:
    """`true`/`false` in any case (alpaca-py sends `True`), or a JSON boolean."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise invalid(f"invalid {field}: {value!r}")


def parse_int(value: str | None, field: str, *, default: int, low: int, high: int) -> int:
    """An integer query parameter, clamped to `high`; below `low` or not a number is an error."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise unprocessable(f"invalid {field}: {value}") from exc
    if number < low:
        raise unprocessable(f"invalid {field}: {value}")
    return min(number, high)
