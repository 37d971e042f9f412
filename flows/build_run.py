"""`python -m flows.build_run RUN_ID [--target-path DIR]`: build one recorded backtest run.

How a sweep builds its chunks in separate processes at the same time: dbt is not safe to run
twice in one process concurrently, and each process gets its own dbt target directory.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from config.database import make_engine, resolve_connection
from config.settings import load_settings
from flows.backtest import build_run, build_vars
from strategies.spec import StrategySpec, load_specs


def _run_spec(engine: Engine, run_id: uuid.UUID) -> StrategySpec:
    with engine.connect() as conn:
        recorded: dict[str, object] = conn.execute(
            text("select spec from raw.backtest_runs where run_id = :r"), {"r": run_id}
        ).scalar_one()
    return StrategySpec.model_validate(recorded)


def main() -> None:
    """Build the run's tables (its indicators are current and the backtest views exist: the
    sweep's first chunk built them)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_id", type=uuid.UUID)
    parser.add_argument("--target-path", type=Path)
    arguments = parser.parse_args()
    connection = resolve_connection(load_settings())
    engine = make_engine(connection)
    try:
        spec = _run_spec(engine, arguments.run_id)
        build_run(
            connection,
            engine,
            arguments.run_id,
            build_vars(load_specs(), spec),
            upstream_built=True,
            target_path=arguments.target_path,
            tables_only=True,
        )
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
