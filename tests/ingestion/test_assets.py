"""Landing the broker's assets: every flag, one row per asset, rows change only when assets do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alpaca.trading.client import TradingClient
from sqlalchemy import Engine, text

from ingestion.assets import land_assets, sync_assets
from simulator.market import UNIVERSE

FLAGS = "tradable, marginable, shortable, easy_to_borrow, fractionable"


def asset(symbol: str, asset_id: str, status: str = "active", **changes: Any) -> dict[str, Any]:
    """An asset record shaped like GET /v2/assets."""
    return {
        "id": asset_id,
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": symbol,
        "name": f"{symbol} Inc.",
        "status": status,
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": False,
        **changes,
    }


ID_A = "00000000-0000-4000-8000-00000000000a"
ID_B = "00000000-0000-4000-8000-00000000000b"


def symbols(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("select id, symbol from raw.assets"))
        return {asset_id: symbol for asset_id, symbol in rows}


def test_sync_lands_every_simulated_asset_with_its_flags(
    trading: TradingClient, engine: Engine
) -> None:
    landed = sync_assets(trading, engine).landed
    with engine.connect() as conn:
        aapl = conn.execute(
            text(
                f"select name, exchange, asset_class, status, {FLAGS} from raw.assets "
                "where symbol = 'AAPL'"
            )
        ).one()
        count = conn.execute(text("select count(*) from raw.assets")).scalar_one()
    assert landed == count == len(UNIVERSE)
    assert tuple(aapl) == (
        "Apple Inc. Common Stock",
        "NASDAQ",
        "us_equity",
        "active",
        True,
        True,
        True,
        True,
        True,
    )


def test_assets_synced_from_the_simulator_say_so(trading: TradingClient, engine: Engine) -> None:
    run = sync_assets(trading, engine)
    with engine.connect() as conn:
        sources = conn.execute(text("select distinct source from raw.assets")).scalars()
        runs = conn.execute(text("select source from raw.ingestion_runs")).scalars()
        assert (list(sources), list(runs), run.source) == (
            ["simulator"],
            ["simulator"],
            "simulator",
        )


def test_second_sync_lands_nothing_and_touches_no_row(
    trading: TradingClient, engine: Engine
) -> None:
    sync_assets(trading, engine)
    with engine.connect() as conn:
        before = conn.execute(text("select max(updated_at) from raw.assets")).scalar_one()
    assert sync_assets(trading, engine).landed == 0
    with engine.connect() as conn:
        after = conn.execute(text("select max(updated_at) from raw.assets")).scalar_one()
    assert after == before


def test_changed_asset_is_updated_with_a_new_updated_at(
    trading: TradingClient, engine: Engine
) -> None:
    sync_assets(trading, engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "update raw.assets set fractionable = false, shortable = false, "
                "updated_at = '2024-01-01 00:00+00' where symbol = 'MSFT'"
            )
        )
    assert sync_assets(trading, engine).landed == 1
    with engine.connect() as conn:
        shortable, fractionable, updated_at = conn.execute(
            text("select shortable, fractionable, updated_at from raw.assets where symbol = 'MSFT'")
        ).one()
    assert (shortable, fractionable) == (True, True)
    assert updated_at > datetime(2024, 1, 1, tzinfo=UTC)


def test_malformed_asset_is_quarantined_and_the_others_land(
    engine: Engine, quarantined: Callable[[], list]
) -> None:
    bad = asset("BBB", ID_B, tradable="maybe")
    with engine.begin() as conn:
        landed, _ = land_assets(conn, [asset("AAA", ID_A), bad])
    assert landed == 1
    assert symbols(engine) == {ID_A: "AAA"}
    assert quarantined() == [
        (
            "asset",
            "BBB",
            "alpaca",
            "tradable: Input should be a valid boolean, unable to interpret input (value 'maybe')",
            bad,
        )
    ]


def test_symbol_listed_twice_goes_to_the_active_asset(
    engine: Engine, quarantined: Callable[[], list]
) -> None:
    delisted = asset("AAA", ID_B, status="inactive", tradable=False)
    with engine.begin() as conn:
        landed, _ = land_assets(conn, [delisted, asset("AAA", ID_A)])
    assert landed == 1
    assert symbols(engine) == {ID_A: "AAA"}
    assert [(kind, key, reason) for kind, key, _, reason, _ in quarantined()] == [
        ("asset", "AAA", f"symbol: already held by asset {ID_A} (value 'AAA')")
    ]


def test_two_assets_swapping_symbols_both_land(engine: Engine) -> None:
    with engine.begin() as conn:
        land_assets(conn, [asset("AAA", ID_A), asset("BBB", ID_B)])
    with engine.begin() as conn:
        changed, _ = land_assets(conn, [asset("BBB", ID_A), asset("AAA", ID_B)])
    assert changed == 2
    assert symbols(engine) == {ID_A: "BBB", ID_B: "AAA"}
