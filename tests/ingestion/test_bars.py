"""Bars from the simulator via alpaca-py: complete, versioned, watermarked, validated."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
import redis
from sqlalchemy import Engine, text

from config.alpaca import data_client, trading_client
from config.alpaca_http import AlpacaUnavailableError
from config.database import Connection
from config.settings import ConfigurationError, Settings
from ingestion.bars import (
    BarsPage,
    Options,
    PagingError,
    UnknownSymbolError,
    _rows,
    backfill,
    fetch_pages,
    land_fetched,
    load_new_bars,
    watermarks,
)
from ingestion.db import RunRecord, totals
from ingestion.events import EventStream
from ingestion.timeframes import parse_timeframe
from ingestion.validate import BARS_SCHEMA
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle, running_simulator

HOUR = parse_timeframe("1Hour")
NOW = datetime(2024, 3, 8, 21, tzinfo=UTC)  # Friday 16:00 New York
REDIS_URL = "redis://127.0.0.1:6379/0"


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


def query(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


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


def land(engine: Engine, rows: list[dict[str, object]], **options: Any) -> RunRecord:
    frame = pl.DataFrame(rows, schema=BARS_SCHEMA)
    run = RunRecord("bars", "alpaca", {"test": True})
    return land_fetched(engine, frame, HOUR, run, NOW, Options(**options))


def test_backfill_lands_every_hourly_bar_once_across_pages(
    settings: Settings, engine: Engine
) -> None:
    data, trading = data_client(settings), trading_client(settings)
    start = datetime(2024, 3, 4, tzinfo=UTC)
    first = totals(backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, start, NOW))
    again = totals(backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, start, NOW))
    # Five full sessions of 7 regular-hours bars each, for each symbol, fetched in pages of 50.
    assert counts(engine) == {"AAPL": 35, "MSFT": 35}
    assert (first.fetched, first.landed, first.quarantined) == (70, 70, 0)
    assert (again.fetched, again.landed, again.corrected, again.unchanged) == (70, 0, 0, 70)
    runs = query(
        engine,
        "select status, fetched, landed, corrected, unchanged, quarantined, duration_seconds "
        "from raw.ingestion_runs order by id",
    )
    assert [r[:6] for r in runs] == [
        ("succeeded", 70, 70, 0, 0, 0),
        ("succeeded", 70, 0, 0, 70, 0),
    ]
    assert all(r[6] is not None and r[6] >= 0 for r in runs)
    assert query(engine, "select count(*) from raw.bars_history") == [(0,)]


def test_watermarks_are_kept_per_symbol_and_timeframe(settings: Settings, engine: Engine) -> None:
    data, trading = data_client(settings), trading_client(settings)
    backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, datetime(2024, 3, 4, tzinfo=UTC), NOW)
    newest = datetime(2024, 3, 8, 20, tzinfo=UTC)  # the 15:00 New York bar, the last of Friday
    assert watermarks(engine, HOUR, "simulator") == {"AAPL": newest, "MSFT": newest}
    assert watermarks(engine, HOUR, "alpaca") == {}
    assert watermarks(engine, parse_timeframe("1Day"), "simulator") == {}


def test_incremental_load_starts_from_the_watermark_minus_the_lookback(
    settings: Settings, engine: Engine
) -> None:
    data, trading = data_client(settings), trading_client(settings)
    start, wednesday = datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC)
    backfill(data, trading, engine, ["AAPL"], HOUR, start, wednesday)
    runs = load_new_bars(
        data,
        trading,
        engine,
        ["AAPL", "MSFT"],
        HOUR,
        default_start=start,
        until=NOW,
        lookback=timedelta(hours=3),
    )
    assert counts(engine) == {"AAPL": 35, "MSFT": 35}
    aapl, msft = runs  # the tracked symbol and the new one are fetched apart
    assert aapl.params["symbols"] == ["AAPL"] and msft.params["symbols"] == ["MSFT"]
    assert aapl.landed == 21  # Wednesday to Friday
    assert aapl.unchanged == aapl.fetched - 21 > 0  # the look-back bars come back unchanged
    assert msft.landed == 35


def test_a_failed_fetch_leaves_the_watermark_and_records_the_failure(
    sim: SimulatorHandle, settings: Settings, engine: Engine
) -> None:
    data, trading = data_client(settings), trading_client(settings)
    backfill(data, trading, engine, ["AAPL"], HOUR, datetime(2024, 3, 4, tzinfo=UTC), NOW)
    before = watermarks(engine, HOUR)
    sim.simulator.faults.replace([FaultRule(kind="500", path="/v2/stocks/bars")])
    failing = settings.model_copy(update={"alpaca_max_attempts": 2})
    with pytest.raises(Exception, match="500|Internal"):
        backfill(
            data_client(failing), trading, engine, ["AAPL"], HOUR, datetime(2024, 3, 7, tzinfo=UTC)
        )
    assert watermarks(engine, HOUR) == before
    status, error = query(engine, "select status, error from raw.ingestion_runs order by id")[-1]
    assert status == "failed" and error.startswith("fetch failed")


@pytest.mark.parametrize("kind", ["429", "500", "504", "slow", "drop", "truncate"])
def test_a_passing_fault_is_retried_and_the_backfill_is_complete(
    kind: str, sim: SimulatorHandle, settings: Settings, engine: Engine
) -> None:
    sim.simulator.faults.replace(
        [FaultRule(kind=kind, path="/v2/stocks/bars", times=1, delay_seconds=None)]
    )
    quick = settings.model_copy(update={"alpaca_timeout_seconds": 0.5})
    data = data_client(quick)
    data._session.backoff_cap = 0.2  # type: ignore[attr-defined]  # a 429 would wait up to 8 s
    runs = backfill(
        data,
        trading_client(quick),
        engine,
        ["AAPL", "MSFT"],
        HOUR,
        datetime(2024, 3, 4, tzinfo=UTC),
        NOW,
    )
    assert counts(engine) == {"AAPL": 35, "MSFT": 35}
    assert totals(runs).landed == 70
    # Two pages of 50, the first asked twice.
    assert sim.simulator.requests.counts()["GET /v2/stocks/bars"] == 3


def test_a_persistent_truncated_body_ends_the_run_with_a_clear_message(
    sim: SimulatorHandle, settings: Settings, engine: Engine
) -> None:
    sim.simulator.faults.replace([FaultRule(kind="truncate", path="/v2/stocks/bars")])
    failing = settings.model_copy(update={"alpaca_max_attempts": 2})
    with pytest.raises(
        AlpacaUnavailableError,
        match=r"GET /v2/stocks/bars failed after 2 attempts: .*not valid JSON",
    ):
        backfill(
            data_client(failing),
            trading_client(failing),
            engine,
            ["AAPL"],
            HOUR,
            datetime(2024, 3, 4, tzinfo=UTC),
        )
    ((status, error),) = query(engine, "select status, error from raw.ingestion_runs")
    assert status == "failed" and "not valid JSON" in error
    assert counts(engine) == {} and watermarks(engine, HOUR) == {}


def test_a_corrected_bar_lands_as_a_new_version_and_keeps_the_old_one(engine: Engine) -> None:
    first = land(engine, [bar(), bar(ts=datetime(2024, 1, 2, 16, tzinfo=UTC))])
    corrected = land(engine, [bar(close=100.9), bar(ts=datetime(2024, 1, 2, 16, tzinfo=UTC))])
    again = land(engine, [bar(close=100.9), bar(ts=datetime(2024, 1, 2, 16, tzinfo=UTC))])
    assert (first.landed, corrected.corrected, corrected.unchanged) == (2, 1, 1)
    assert (again.landed, again.corrected, again.unchanged) == (0, 0, 2)
    current = query(engine, "select close, version from raw.bars where ts = '2024-01-02 15:00+00'")
    assert [(float(c), v) for c, v in current] == [(100.9, 2)]
    history = query(
        engine,
        "select close, version, ingested_at <= superseded_at from raw.bars_history",
    )
    assert [(float(c), v, ordered) for c, v, ordered in history] == [(100.5, 1, True)]


def test_every_kind_of_bad_bar_lands_in_quarantine_with_its_own_reason(engine: Engine) -> None:
    ts = [datetime(2024, 1, 2, 14 + i, tzinfo=UTC) for i in range(3)]
    duplicate = datetime(2024, 1, 3, 15, tzinfo=UTC)
    rows = [
        bar(ts=ts[0]),
        bar(ts=ts[1], close=100.6),
        bar(ts=ts[2], close=100.7),
        bar(symbol="MSFT", close=None),
        bar(symbol="MSFT", ts=ts[0], close=float("nan")),
        bar(symbol="MSFT", ts=ts[1], open=0.0),
        bar(symbol="MSFT", ts=ts[2], low=-1.0, close=0.5, open=0.5),
        bar(symbol="NVDA", high=98.0),
        bar(symbol="NVDA", ts=ts[0], open=102.0),
        bar(symbol="NVDA", ts=ts[1], close=98.5),
        bar(symbol="NVDA", ts=ts[2], volume=-1.0),
        bar(symbol="AMD", ts=duplicate),
        bar(symbol="AMD", ts=duplicate, close=100.1),
        bar(symbol="AMD", ts=datetime(2024, 1, 2, 15, 30, tzinfo=UTC)),
        bar(symbol="AMD", ts=NOW + timedelta(hours=1)),
        bar(symbol="ZZZZ"),
    ]
    run = land(engine, rows, known={"AAPL", "MSFT", "NVDA", "AMD"})
    assert (run.fetched, run.landed, run.quarantined) == (16, 3, 13)
    assert run.fetched == run.landed + run.corrected + run.unchanged + run.quarantined
    reasons = sorted(r for (r,) in query(engine, "select reason from raw.quarantine_bars"))
    assert reasons == sorted(
        [
            "missing price: close is null",
            "missing price: close is NaN",
            "non-positive price: open = 0.0",
            "non-positive price: low = -1.0",
            "high 98.0 < low 99.0",
            "open 102.0 outside [low 99.0, high 101.0]",
            "close 98.5 outside [low 99.0, high 101.0]",
            "invalid volume: volume = -1.0",
            "duplicate key with different values: AMD 1Hour 2024-01-03 15:00:00.000000+00:00",
            "duplicate key with different values: AMD 1Hour 2024-01-03 15:00:00.000000+00:00",
            "ts 2024-01-02 15:30:00.000000+00:00 not on the 1Hour grid",
            "ts 2024-03-08 22:00:00.000000+00:00 is in the future",
            "unknown symbol: symbol = ZZZZ (not an Alpaca asset)",
        ]
    )
    payload = query(engine, "select payload from raw.quarantine_bars where reason like 'unknown%'")[
        0
    ][0]
    assert payload["symbol"] == "ZZZZ" and payload["close"] == 100.5
    assert counts(engine) == {"AAPL": 3}


def test_an_exact_copy_in_a_fetched_batch_lands_once_and_every_copy_is_held(
    engine: Engine,
) -> None:
    later = datetime(2024, 1, 2, 16, tzinfo=UTC)
    rows = [bar(), bar(), bar(), bar(ts=later), bar(ts=later), bar(ts=later, close=100.6)]
    run = land(engine, rows)
    assert (run.fetched, run.landed, run.unchanged, run.quarantined) == (6, 1, 0, 5)
    assert counts(engine) == {"AAPL": run.landed}
    copy = "exact duplicate of a landed row: AAPL 1Hour 2024-01-02 15:00:00.000000+00:00"
    conflict = "duplicate key with different values: AAPL 1Hour 2024-01-02 16:00:00.000000+00:00"
    held = query(
        engine,
        "select reason, payload->>'close', payload->>'occurrence' from raw.quarantine_bars "
        "order by reason, payload->>'close', payload->>'occurrence' nulls first",
    )
    assert [tuple(row) for row in held] == [
        (conflict, "100.5", None),
        (conflict, "100.5", "2"),
        (conflict, "100.6", None),
        (copy, "100.5", None),
        (copy, "100.5", "2"),
    ]
    again = land(engine, rows)
    assert (again.landed, again.unchanged, again.quarantined) == (0, 1, 5)
    assert len(query(engine, "select id from raw.quarantine_bars")) == 5


def test_a_malformed_record_from_the_api_is_quarantined_with_field_and_value(
    engine: Engine,
) -> None:
    page = BarsPage.model_validate(
        {
            "bars": {
                "AAPL": [
                    {"t": "2024-01-02T15:00:00Z", "o": 1, "h": 2, "l": 1, "c": 2, "v": 5},
                    {"t": "2024-01-02T16:00:00Z", "o": "abc", "h": 2, "l": 1, "c": 2, "v": 5},
                ]
            },
            "next_page_token": None,
        }
    )
    good, bad = _rows(page, HOUR)
    run = RunRecord("bars", "alpaca", {})
    land_fetched(engine, pl.DataFrame(good, schema=BARS_SCHEMA), HOUR, run, NOW, malformed=bad)
    assert (run.fetched, run.landed, run.quarantined) == (2, 1, 1)
    ((reason, payload),) = query(engine, "select reason, payload from raw.quarantine_bars")
    assert reason.startswith("malformed bar: o:") and "'abc'" in reason
    assert payload["payload_o"] == "abc"


def test_a_jump_in_the_close_is_flagged_suspect_and_kept(engine: Engine) -> None:
    at = [datetime(2024, 1, 2, 15 + i, tzinfo=UTC) for i in range(3)]
    land(engine, [bar(ts=at[0])], max_close_jump=0.2)
    run = land(
        engine,
        [
            bar(ts=at[1], close=150.0, high=151.0, open=149.0, low=148.0),
            bar(ts=at[2], close=151.0, high=152.0, open=150.0, low=149.0),
        ],
        max_close_jump=0.2,
    )
    assert (run.landed, run.suspect) == (2, 1)
    rows = query(engine, "select ts, is_suspect, suspect_reason from raw.bars order by ts")
    assert [(flag) for _, flag, _ in rows] == [False, True, False]
    assert rows[1][2] == "close 150.0 moved 49.3% from the previous close 100.5 (limit 20.0%)"


def test_each_expectation_result_is_recorded_per_run(engine: Engine) -> None:
    run = land(engine, [bar(), bar(ts=datetime(2024, 1, 2, 16, tzinfo=UTC), volume=-5.0)])
    results = query(
        engine,
        "select expectation, columns, success, element_count, unexpected_count "
        "from raw.data_quality_runs where run_id = :id",
        id=run.id,
    )
    by_name = {(e, c): (s, n, u) for e, c, s, n, u in results}
    assert by_name[("expect_column_values_to_be_between", "volume")] == (False, 2, 1)
    assert by_name[("expect_compound_columns_to_be_unique", "symbol,timeframe,ts")][0] is True
    assert by_name[("expect_column_values_to_be_in_set", "grid_offset_seconds")][0] is True
    assert len(results) >= 14


def test_each_landing_publishes_an_event_to_the_redis_stream(engine: Engine) -> None:
    stream = f"test:events:{uuid.uuid4().hex}"
    events = EventStream(REDIS_URL, stream=stream)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        run = land(engine, [bar(), bar(ts=datetime(2024, 1, 2, 16, tzinfo=UTC))], events=events)
        ((_, fields),) = client.xrange(stream)
    finally:
        client.delete(stream)
        client.close()
        events.close()
    assert fields["event"] == "bars_landed"
    assert fields["run_id"] == str(run.id)
    assert (json.loads(fields["landed"]), json.loads(fields["quarantined"])) == (2, 0)
    assert fields["newest_bar"] == "2024-01-02T16:00:00+00:00"


def test_an_empty_string_page_token_ends_paging(sim: SimulatorHandle, settings: Settings) -> None:
    sim.simulator.faults.replace([FaultRule(kind="empty_token", path="/v2/stocks/bars")])
    start = datetime(2024, 3, 4, tzinfo=UTC)
    pages = list(fetch_pages(data_client(settings), ["AAPL", "MSFT"], HOUR, start, NOW))
    assert [p.next_page_token for p in pages][-1] == ""
    assert sum(len(bars) for p in pages for bars in (p.bars or {}).values()) == 70
    assert sim.simulator.requests.counts()["GET /v2/stocks/bars"] == len(pages) == 2


def test_a_repeated_page_token_stops_the_run_instead_of_looping(
    sim: SimulatorHandle, settings: Settings, engine: Engine
) -> None:
    sim.simulator.faults.replace([FaultRule(kind="repeat_token", path="/v2/stocks/bars")])
    data, trading = data_client(settings), trading_client(settings)
    with pytest.raises(PagingError, match="came back twice"):
        backfill(data, trading, engine, ["AAPL", "MSFT"], HOUR, datetime(2024, 3, 4, tzinfo=UTC))
    assert counts(engine) == {}
    assert query(engine, "select status from raw.ingestion_runs") == [("failed",)]


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
