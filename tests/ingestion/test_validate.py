"""Bar validation: each bad row is rejected with its own reason, the rest pass."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from ingestion.timeframes import parse_timeframe
from ingestion.validate import BARS_SCHEMA, check_bars

NOW = datetime(2025, 6, 1, tzinfo=UTC)
HOUR = parse_timeframe("1Hour")


def bar(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "symbol": "AAPL",
        "timeframe": "1Hour",
        "ts": datetime(2024, 1, 2, 15, tzinfo=UTC),
        "open": 100.0,
        "high": 101.0,
        "low": 99.0,
        "close": 100.5,
        "volume": 1000.0,
        "trade_count": 10,
        "vwap": 100.2,
    }
    row.update(overrides)
    return row


def reasons(rows: list[dict[str, object]]) -> list[str | None]:
    checked = check_bars(pl.DataFrame(rows, schema=BARS_SCHEMA), HOUR, NOW)
    rejected = dict(
        zip(checked.rejected["close"].to_list(), checked.rejected["reason"].to_list(), strict=True)
    )
    return [rejected.get(r["close"]) for r in rows]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"open": None}, "missing price: open is null"),
        ({"low": float("nan")}, "missing price: low is NaN"),
        ({"open": 0.0, "low": 0.0}, "non-positive price: open = 0.0"),
        ({"low": -1.0}, "non-positive price: low = -1.0"),
        ({"high": 98.0, "low": 99.0}, "high 98.0 < low 99.0"),
        ({"open": 102.0}, "open 102.0 outside [low 99.0, high 101.0]"),
        ({"volume": -5.0}, "invalid volume: volume = -5.0"),
        ({"ts": datetime(2024, 1, 2, 15, 30, tzinfo=UTC)}, "not on the 1Hour grid"),
        ({"ts": datetime(2030, 1, 2, 15, tzinfo=UTC)}, "is in the future"),
    ],
)
def test_each_bad_bar_gets_its_own_reason_and_the_good_one_passes(
    overrides: dict[str, object], expected: str
) -> None:
    good = bar(close=100.5)
    bad = bar(
        **{
            "close": 100.25,
            **overrides,
            "ts": overrides.get("ts", datetime(2024, 1, 2, 16, tzinfo=UTC)),
        }
    )
    got = reasons([good, bad])
    assert got[0] is None
    assert got[1] is not None and expected in got[1]


def test_close_outside_the_range_is_rejected() -> None:
    assert reasons([bar(close=105.0)]) == ["close 105.0 outside [low 99.0, high 101.0]"]


def test_rows_sharing_a_key_with_different_values_are_all_rejected() -> None:
    rows = [bar(), bar(), bar(close=100.7)]
    checked = check_bars(pl.DataFrame(rows, schema=BARS_SCHEMA), HOUR, NOW)
    assert checked.valid.is_empty()
    assert (
        checked.rejected["reason"].to_list()
        == ["duplicate key with different values: AAPL 1Hour 2024-01-02 15:00:00.000000+00:00"] * 3
    )


def test_exact_copies_keep_the_first_row_and_reject_the_others_as_copies() -> None:
    later = datetime(2024, 1, 2, 16, tzinfo=UTC)
    rows = [bar(), bar(ts=later), bar(), bar(), bar(ts=later, trade_count=None)]
    checked = check_bars(pl.DataFrame(rows, schema=BARS_SCHEMA), HOUR, NOW)
    assert checked.valid.to_dicts() == [rows[0]]
    assert checked.rejected["reason"].to_list() == [
        "duplicate key with different values: AAPL 1Hour 2024-01-02 16:00:00.000000+00:00",
        "exact duplicate of a landed row: AAPL 1Hour 2024-01-02 15:00:00.000000+00:00",
        "exact duplicate of a landed row: AAPL 1Hour 2024-01-02 15:00:00.000000+00:00",
        "duplicate key with different values: AAPL 1Hour 2024-01-02 16:00:00.000000+00:00",
    ]


def test_a_copy_of_a_bad_row_is_rejected_for_what_is_wrong_with_it() -> None:
    assert reasons([bar(high=98.0), bar(high=98.0)]) == ["high 98.0 < low 99.0"] * 2


def test_daily_bars_must_start_at_midnight_new_york() -> None:
    day = parse_timeframe("1Day")
    rows = [
        bar(timeframe="1Day", ts=datetime(2024, 1, 2, 5, tzinfo=UTC), close=100.1),  # EST midnight
        bar(timeframe="1Day", ts=datetime(2024, 7, 2, 4, tzinfo=UTC), close=100.2),  # EDT midnight
        bar(timeframe="1Day", ts=datetime(2024, 1, 2, 0, tzinfo=UTC), close=100.3),  # UTC midnight
    ]
    checked = check_bars(pl.DataFrame(rows, schema=BARS_SCHEMA), day, NOW)
    assert checked.valid["close"].to_list() == [100.1, 100.2]
    assert "not on the 1Day grid" in checked.rejected["reason"][0]


@pytest.mark.parametrize("value", ["1H", "0Hour", "24Hour", "5Day", "hour", ""])
def test_bad_timeframes_are_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="timeframe"):
        parse_timeframe(value)
