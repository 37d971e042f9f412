"""Importing a user's own bar file: all or nothing for malformed files, quarantine for bad bars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, text

from ingestion.files import BarsFileError, import_bars
from ingestion.timeframes import parse_timeframe

DAY = parse_timeframe("1Day")
GOOD = """Date,OPEN,High,low,Close,Volume
2024-01-02,187.15,188.44,183.89,185.64,82488700
2024-01-03,184.22,185.88,183.43,184.25,58414500
2024-07-03,182.15,183.09,180.88,181.91,71983600
"""


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def bars(engine: Engine) -> list[tuple[str, datetime, float]]:
    with engine.connect() as conn:
        return [
            (s, ts, float(c))
            for s, ts, c in conn.execute(text("select symbol, ts, close from raw.bars order by ts"))
        ]


def test_daily_csv_lands_at_midnight_new_york_and_reimport_adds_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, "aapl.csv", GOOD)
    first = import_bars(engine, path, DAY, symbol="aapl")
    second = import_bars(engine, path, DAY, symbol="AAPL")
    assert (first.landed, first.unchanged) == (3, 0)
    assert (second.landed, second.unchanged) == (0, 3)
    landed = bars(engine)
    assert [row[1] for row in landed] == [
        datetime(2024, 1, 2, 5, tzinfo=UTC),
        datetime(2024, 1, 3, 5, tzinfo=UTC),
        datetime(2024, 7, 3, 4, tzinfo=UTC),
    ]
    assert {row[0] for row in landed} == {"AAPL"}


def test_parquet_with_symbol_and_timestamp_columns_lands(engine: Engine, tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "Timestamp": ["2024-01-02T05:00:00Z", "2024-01-03 00:00:00"],
            "Symbol": ["msft", "MSFT"],
            "Open": [370.0, 371.0],
            "High": [372.0, 373.0],
            "Low": [369.0, 370.0],
            "Close": [371.5, 372.5],
            "Volume": [1000, 2000],
        }
    )
    path = tmp_path / "msft.parquet"
    frame.write_parquet(path)
    run = import_bars(engine, path, DAY)
    assert run.landed == 2
    assert [row[1] for row in bars(engine)] == [
        datetime(2024, 1, 2, 5, tzinfo=UTC),
        datetime(2024, 1, 3, 5, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("date,open,high,low,volume\n2024-01-02,1,2,0.5,10\n", "missing column(s) close"),
        ("open,high,low,close,volume\n1,2,0.5,1.5,10\n", "missing column(s) date or timestamp"),
        (
            "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,two,0.5,1,1\n",
            "line 3, column 'high': cannot parse 'two'",
        ),
        (
            "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-13-45,1,2,0.5,1,1\n",
            "line 3, column 'date': cannot parse '2024-13-45'",
        ),
        ("date,open,high,low,close,volume\n", "no rows"),
    ],
)
def test_malformed_file_is_refused_whole_naming_line_column_and_value(
    engine: Engine, tmp_path: Path, body: str, message: str
) -> None:
    path = write(tmp_path, "bad.csv", body)
    with pytest.raises(BarsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_bars(engine, path, DAY, symbol="AAPL")
    assert bars(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.ingestion_runs")).scalar() == 0


def test_bad_bars_are_quarantined_with_reason_while_the_rest_lands(
    engine: Engine, tmp_path: Path
) -> None:
    body = GOOD + "2024-07-05,10,9,11,10,100\n2024-07-08,-1,2,-1,1,100\n"
    run = import_bars(engine, write(tmp_path, "mixed.csv", body), DAY, symbol="AAPL")
    assert (run.fetched, run.landed, run.quarantined) == (5, 3, 2)
    with engine.connect() as conn:
        reasons = conn.execute(
            text("select reason, payload->>'open' from raw.quarantine_bars order by ts")
        ).all()
        runs = conn.execute(
            text("select fetched, landed, unchanged, quarantined from raw.ingestion_runs")
        ).all()
    assert reasons == [("high 9.0 < low 11.0", "10.0"), ("non-positive price: open = -1.0", "-1.0")]
    assert runs == [(5, 3, 0, 2)]


def test_symbol_column_and_symbol_option_together_are_refused(
    tmp_path: Path, engine: Engine
) -> None:
    path = write(
        tmp_path, "s.csv", "date,symbol,open,high,low,close,volume\n2024-01-02,A,1,2,0.5,1,1\n"
    )
    with pytest.raises(BarsFileError, match="do not also pass --symbol"):
        import_bars(engine, path, DAY, symbol="B")


def stored(engine: Engine) -> tuple[int, list[str], tuple[int, ...]]:
    """(bars held, quarantine reasons, the run's fetched/landed/corrected/unchanged/quarantined)."""
    with engine.connect() as conn:
        held = conn.execute(text("select count(*) from raw.bars")).scalar_one()
        reasons = conn.execute(text("select reason from raw.quarantine_bars order by id")).all()
        (run,) = conn.execute(
            text(
                "select fetched, landed, corrected, unchanged, quarantined from raw.ingestion_runs"
            )
        ).all()
    return held, [reason for (reason,) in reasons], tuple(run)


def test_a_row_repeated_exactly_lands_once_and_the_counts_match_the_tables(
    engine: Engine, tmp_path: Path
) -> None:
    repeated = GOOD.splitlines()[2] + "\n"  # 2024-01-03
    path = write(tmp_path, "repeated.csv", GOOD + repeated + repeated)
    run = import_bars(engine, path, DAY, symbol="AAPL")
    assert (run.fetched, run.landed, run.unchanged, run.quarantined) == (5, 3, 0, 2)
    held, reasons, recorded = stored(engine)
    assert held == run.landed and len(reasons) == run.quarantined
    assert recorded == (5, 3, 0, 0, 2)
    assert (
        reasons
        == ["exact duplicate of a landed row: AAPL 1Day 2024-01-03 05:00:00.000000+00:00"] * 2
    )
    assert (datetime(2024, 1, 3, 5, tzinfo=UTC), 184.25) in [(ts, c) for _, ts, c in bars(engine)]


def test_rows_with_one_key_and_different_values_are_all_quarantined(
    engine: Engine, tmp_path: Path
) -> None:
    first = GOOD.splitlines()[2] + "\n"  # 2024-01-03, close 184.25, also in GOOD
    conflicting = first.replace("184.25", "184.30")
    path = write(tmp_path, "conflicting.csv", GOOD + first + conflicting)
    run = import_bars(engine, path, DAY, symbol="AAPL")
    assert (run.fetched, run.landed, run.quarantined) == (5, 2, 3)
    held, reasons, recorded = stored(engine)
    assert held == run.landed and len(reasons) == run.quarantined
    assert recorded == (5, 2, 0, 0, 3)
    assert set(reasons) == {
        "duplicate key with different values: AAPL 1Day 2024-01-03 05:00:00.000000+00:00"
    }
    assert datetime(2024, 1, 3, 5, tzinfo=UTC) not in [ts for _, ts, _ in bars(engine)]
