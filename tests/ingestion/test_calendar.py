"""Landing the trading calendar: sessions in New York time, early closes, idempotent re-syncs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from alpaca.trading.client import TradingClient
from sqlalchemy import Engine, text

from ingestion.calendar import land_calendar, sync_calendar

START, END = date(2024, 11, 1), date(2024, 12, 31)


def sessions(engine: Engine) -> dict[date, tuple[datetime, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select session_date, open_at, close_at from raw.calendar"))
        return {day: (opens, closes) for day, opens, closes in rows}


def test_sync_lands_every_session_with_early_closes_in_new_york_time(
    trading: TradingClient, engine: Engine
) -> None:
    landed = sync_calendar(trading, engine, START, END).landed
    held = sessions(engine)
    # 21 + 22 weekdays, less Thanksgiving (Nov 28) and Christmas (Dec 25).
    assert landed == len(held) == 41
    assert date(2024, 11, 28) not in held
    assert date(2024, 12, 25) not in held
    # The day after Thanksgiving and Christmas Eve close at 13:00 New York (EST, UTC-5).
    assert held[date(2024, 11, 29)] == (
        datetime(2024, 11, 29, 14, 30, tzinfo=UTC),
        datetime(2024, 11, 29, 18, 0, tzinfo=UTC),
    )
    assert held[date(2024, 12, 24)][1] == datetime(2024, 12, 24, 18, 0, tzinfo=UTC)
    assert held[date(2024, 11, 27)][1] == datetime(2024, 11, 27, 21, 0, tzinfo=UTC)
    # Before the switch from daylight time, 09:30 New York is 13:30 UTC.
    assert held[date(2024, 11, 1)][0] == datetime(2024, 11, 1, 13, 30, tzinfo=UTC)
    with engine.connect() as conn:
        payload = conn.execute(
            text("select payload from raw.calendar where session_date = '2024-11-29'")
        ).scalar_one()
    assert (payload["date"], payload["open"], payload["close"]) == ("2024-11-29", "09:30", "13:00")


def test_sessions_synced_from_the_simulator_say_so(trading: TradingClient, engine: Engine) -> None:
    run = sync_calendar(trading, engine, START, END)
    with engine.connect() as conn:
        sources = conn.execute(text("select distinct source from raw.calendar")).scalars()
        runs = conn.execute(text("select source from raw.ingestion_runs")).scalars()
        assert (list(sources), list(runs), run.source) == (
            ["simulator"],
            ["simulator"],
            "simulator",
        )


def test_second_sync_lands_nothing_and_touches_no_row(
    trading: TradingClient, engine: Engine
) -> None:
    sync_calendar(trading, engine, START, END)
    with engine.connect() as conn:
        before = conn.execute(text("select max(updated_at) from raw.calendar")).scalar_one()
    assert sync_calendar(trading, engine, START, END).landed == 0
    with engine.connect() as conn:
        after = conn.execute(text("select max(updated_at) from raw.calendar")).scalar_one()
    assert after == before


def test_newly_announced_early_close_updates_the_session(
    trading: TradingClient, engine: Engine
) -> None:
    sync_calendar(trading, engine, START, END)
    # As if the row had been landed before the early close was announced.
    with engine.begin() as conn:
        conn.execute(
            text(
                "update raw.calendar set close_at = '2024-11-29 21:00+00', "
                "payload = jsonb_set(payload, '{close}', '\"16:00\"'), "
                "updated_at = '2024-01-01 00:00+00' where session_date = '2024-11-29'"
            )
        )
    assert sync_calendar(trading, engine, START, END).landed == 1
    with engine.connect() as conn:
        close_at, updated_at = conn.execute(
            text("select close_at, updated_at from raw.calendar where session_date = '2024-11-29'")
        ).one()
    assert close_at == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert updated_at > datetime(2024, 1, 1, tzinfo=UTC)


def test_malformed_day_is_quarantined_and_the_others_land(
    engine: Engine, quarantined: Callable[[], list]
) -> None:
    good = {"date": "2024-11-27", "open": "09:30", "close": "16:00"}
    closes_before_open = {"date": "2024-11-29", "open": "09:30", "close": "09:00"}
    no_date = {"open": "09:30", "close": "16:00"}
    with engine.begin() as conn:
        landed, _ = land_calendar(conn, [good, closes_before_open, no_date])
    assert landed == 1
    assert list(sessions(engine)) == [date(2024, 11, 27)]
    assert quarantined() == [
        (
            "calendar",
            "2024-11-29",
            "alpaca",
            "close: must be after open 09:30 (value '09:00')",
            closes_before_open,
        ),
        ("calendar", None, "alpaca", "date: Field required", no_date),
    ]
