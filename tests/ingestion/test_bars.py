"""Backfilling bars from the simulator via alpaca-py: complete, idempotent, refuses bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from config.settings import ConfigurationError, Settings
from ingestion.alpaca import data_client, trading_client
from ingestion.bars import UnknownSymbolError, backfill, load_new_bars
from ingestion.timeframes import parse_timeframe
from simulator.server import SimulatorHandle, running_simulator

HOUR = parse_timeframe("1Hour")
NOW = datetime(2024, 3, 8, 21, tzinfo=UTC)  # Friday 16:00 New York


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=NOW, speed=0.0, max_bars_per_page=50) as handle:
        yield handle


@pytest.fixture
def settings(sim: SimulatorHandle, fresh_database: Connection, settings_for) -> Settings:  # type: ignore[no-untyped-def]
    return settings_for(fresh_database, sim.url)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(text("select symbol, count(*) from raw.bars group by symbol")).all()
        )


def test_backfill_lands_every_hourly_bar_once_across_pages(
    settings: Settings, engine: Engine
) -> None:
    data, trading = data_client(settings), trading_client(settings)
    start = datetime(2024, 3, 4, tzinfo=UTC)
    first = backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, start, NOW)
    again = backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, start, NOW)
    # Five full sessions of 7 regular-hours bars each, for each symbol, fetched in pages of 50.
    assert counts(engine) == {"AAPL": 35, "MSFT": 35}
    assert (first.fetched, first.landed, first.quarantined) == (70, 70, 0)
    assert (again.fetched, again.landed, again.unchanged) == (70, 0, 70)
    with engine.connect() as conn:
        runs = conn.execute(text("select status, landed from raw.ingestion_runs order by id")).all()
    assert runs == [("succeeded", 70), ("succeeded", 0)]


def test_incremental_load_starts_from_the_newest_bar(settings: Settings, engine: Engine) -> None:
    data, trading = data_client(settings), trading_client(settings)
    backfill(
        data,
        trading,
        engine,
        ["AAPL"],
        HOUR,
        datetime(2024, 3, 4, tzinfo=UTC),
        datetime(2024, 3, 6, tzinfo=UTC),
    )
    run = load_new_bars(
        data,
        trading,
        engine,
        ["AAPL"],
        HOUR,
        default_start=datetime(2024, 1, 1, tzinfo=UTC),
        until=NOW,
    )
    assert counts(engine) == {"AAPL": 35}
    assert run.landed == 21  # Wednesday to Friday; the look-back bars come back unchanged
    assert run.unchanged == run.fetched - 21


def test_unknown_symbol_is_refused_by_name_before_anything_lands(
    settings: Settings, engine: Engine
) -> None:
    with pytest.raises(UnknownSymbolError, match="ZZZZ"):
        backfill(
            data_client(settings),
            trading_client(settings),
            engine,
            ["AAPL", "ZZZZ"],
            HOUR,
            datetime(2024, 3, 4, tzinfo=UTC),
            NOW,
        )
    assert counts(engine) == {}


def test_real_alpaca_without_keys_fails_before_any_network_call() -> None:
    settings = Settings(alpaca_api_key=None, alpaca_secret_key=None, alpaca_trading_url=None)
    with pytest.raises(
        ConfigurationError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY must be set"
    ):
        trading_client(settings)
    with pytest.raises(ConfigurationError, match="paper-api.alpaca.markets"):
        data_client(settings)
