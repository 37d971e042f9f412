"""docs/strategies.md's recipe works: a fourth strategy from one SQL file and one YAML file."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from flows.dbt import DBT_PROJECT_DIR
from strategies.params import record_params
from strategies.spec import SPECS_DIR, dbt_vars, load_spec, load_specs

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"
START = datetime(2025, 11, 3, 14, tzinfo=UTC)
HOURS = 160


def recipe_files() -> dict[str, str]:
    """The fenced blocks of the recipe whose first line names a file: path → text."""
    blocks = re.findall(r"```(?:yaml|sql)\n(.*?)```", RECIPE.read_text(), flags=re.DOTALL)
    files = {}
    for block in blocks:
        first, _, rest = block.partition("\n")
        named = re.fullmatch(r"(?:#|--) ((?:strategies|dbt_project)/\S+)", first.strip())
        if named:
            files[named.group(1)] = rest
    return files


def _bars(symbols: list[str]) -> list[dict[str, Any]]:
    """Hourly closes on a slow wave, different per symbol, so MACD turns both ways."""
    rows = []
    for number, symbol in enumerate(symbols):
        for i in range(HOURS):
            close = round(100 + 8 * math.sin((i + 7 * number) / 11) + 0.05 * i, 2)
            rows.append(
                {
                    "symbol": symbol,
                    "timeframe": "1Hour",
                    "ts": START + timedelta(hours=i),
                    "open": close,
                    "high": close + 0.5,
                    "low": close - 0.5,
                    "close": close,
                    "volume": 1000,
                }
            )
    return rows


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's specs and dbt project with the recipe's two files added."""
    root = tmp_path_factory.mktemp("recipe")
    shutil.copytree(SPECS_DIR, root / "strategies" / "specs")
    shutil.copytree(
        DBT_PROJECT_DIR, root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    files = recipe_files()
    assert sorted(files) == [
        "dbt_project/models/intermediate/strategies/int_macd_momentum__signals.sql",
        "strategies/specs/macd_momentum.yaml",
    ]
    for relative, body in files.items():
        (root / relative).write_text(body)
    return root


def models_dir(project: Path) -> Path:
    return project / "dbt_project" / "models" / "intermediate" / "strategies"


def test_the_new_strategy_trades_by_its_rule(
    project: Path,
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
    dbt_as_of: datetime,
) -> None:
    specs = load_specs(project / "strategies" / "specs", models_dir(project))
    assert [spec.name for spec in specs] == [
        "bollinger_breakout",
        "macd_momentum",
        "rsi_mean_reversion",
        "sma_crossover",
    ]
    (macd,) = [spec for spec in specs if spec.name == "macd_momentum"]
    record_params(module_engine, specs, START)
    insert_bars(module_engine, _bars(macd.universe))

    variables = {**dbt_vars(specs), "as_of": dbt_as_of.isoformat()}
    dbt_ok(
        ["build", "--project-dir", str(project / "dbt_project"), "--vars", json.dumps(variables)],
        module_database,
    )

    with module_engine.connect() as conn:
        signals = conn.execute(
            text(
                "select s.symbol, s.ts, s.signal, s.in_position, s.target_weight, s.strength,"
                " i.macd_hist, i.atr_14 from marts.signals s join marts.indicators i"
                " using (symbol, timeframe, ts) where s.strategy = 'macd_momentum'"
                " order by s.symbol, s.ts"
            )
        ).all()
    assert {row.symbol for row in signals} == set(macd.universe)
    assert len(signals) == len(macd.universe) * (HOURS - 49)

    threshold = macd.parameters["min_hist"]
    held: dict[str, bool] = {}
    for row in signals:
        was = held.get(row.symbol, False)
        wants = True if row.macd_hist > threshold else False if row.macd_hist < -threshold else was
        held[row.symbol] = wants
        expected_signal = "buy" if wants and not was else "sell" if was and not wants else "hold"
        assert (row.signal, row.in_position) == (expected_signal, wants), row
        assert float(row.target_weight) == pytest.approx(0.1 if wants else 0.0)
        assert row.strength == pytest.approx(min(1.0, abs(row.macd_hist) / row.atr_14))
    assert {"buy", "sell"} <= {row.signal for row in signals}


def test_a_spec_missing_a_parameter_its_sql_reads_is_refused(project: Path, tmp_path: Path) -> None:
    spec = project / "strategies" / "specs" / "macd_momentum.yaml"
    broken = tmp_path / "macd_momentum.yaml"
    broken.write_text(spec.read_text().replace("  min_hist: 0.05\n", "  other: 1\n"))
    with pytest.raises(ValueError, match="parameters: min_hist missing") as error:
        load_spec(broken, models_dir(project))
    assert str(broken) in str(error.value)
