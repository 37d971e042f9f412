"""`trading bench backtest`, run tiny: every row is printed, with figures or with why not."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from config.database import Connection, make_engine
from flows.bench_backtest import grid_points, synthetic_bars
from flows.cli import app

NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")
ROWS = ("(a)", "(b)", "(c)", "(d)", "(e)")


def _rows(output: str) -> dict[str, list[str]]:
    """The table's cells by row key ((a)…(e)); a row wrapped over lines keeps its first line."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        key = cells[0][:3]
        if key in ROWS and key not in rows:
            rows[key] = cells
    return rows


def test_the_default_grid_holds_the_shipped_point_and_only_valid_points() -> None:
    points = grid_points(100)
    assert len(set(points)) == 100
    assert (30.0, 55.0) in points
    assert all(exit_above > oversold for oversold, exit_above in points)


def test_synthetic_bars_are_the_same_every_time_and_have_gaps() -> None:
    bars = synthetic_bars(4, 700)
    assert bars.equals(synthetic_bars(4, 700))
    per_symbol = bars.group_by("symbol").len()["len"]
    # About 2% of hours missing plus a halted day (7 bars) per symbol.
    assert all(600 < n <= 693 for n in per_symbol)
    assert (bars["high"] >= bars[["open", "close"]].max_horizontal()).all()


def test_a_grid_size_no_grid_fits_is_refused_naming_it() -> None:
    result = CliRunner().invoke(app, ["bench", "backtest", "--grid-size", "97"])
    assert result.exit_code == 2
    assert "--grid-size 97" in result.output


@pytest.mark.integration
def test_the_bench_prints_every_row_with_numbers_or_not_built_yet(
    postgres_server: Connection,
) -> None:
    database = f"bench_backtest_{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "backtest",
            "--symbols",
            "3",
            "--bars",
            "300",
            "--grid-size",
            "4",
            "--backtrader-symbols",
            "2",
            "--database",
            database,
        ],
        env={"DATABASE_URL": postgres_server.url, "COLUMNS": "300"},
    )

    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert set(rows) == set(ROWS), result.output
    for key, cells in rows.items():
        figures = cells[1:5]  # wall s, bar-evaluations, per second, peak MB
        assert all(NUMBER.match(cell) for cell in figures), (key, cells)
    evaluations = {key: int(cells[2].replace(",", "")) for key, cells in rows.items() if cells[2]}
    assert evaluations["(b)"] == evaluations["(c)"] == 4 * evaluations["(a)"]
    assert evaluations["(e)"] == 3 * evaluations["(a)"]  # the three strategies' accounts
    assert "one run per strategy" in rows["(e)"][5]
    assert 3 * 250 < evaluations["(a)"] < 3 * 300  # the bars landed, gaps left out
    assert "4 trials kept" in rows["(b)"][5]  # the sweep kept every trial
    assert "ours: a" in rows["(c)"][5] and "ours: a" in rows["(d)"][5]
    engine = make_engine(postgres_server.with_dbname("postgres"))
    with engine.connect() as conn:
        left = conn.execute(
            text("select count(*) from pg_database where datname = :name"), {"name": database}
        ).scalar_one()
    engine.dispose()
    assert left == 0  # the scratch database is dropped
