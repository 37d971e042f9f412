"""Land the broker's assets (GET /v2/assets) in raw.assets, one row per asset id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from alpaca.trading.client import TradingClient
from loguru import logger
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from config.alpaca import ALPACA, source_of
from ingestion.db import RunRecord
from ingestion.records import (
    Rejected,
    check_records,
    fetch_records,
    payload_json,
    quarantine_records,
    record_sync,
)

UPSERT_ASSET = text(
    "insert into raw.assets (id, symbol, name, exchange, asset_class, status, tradable, "
    "marginable, shortable, easy_to_borrow, fractionable, payload, source) values (:id, :symbol, "
    ":name, :exchange, :asset_class, :status, :tradable, :marginable, :shortable, "
    ":easy_to_borrow, :fractionable, cast(:payload as jsonb), :source) "
    "on conflict (id) do update set symbol = excluded.symbol, name = excluded.name, "
    "exchange = excluded.exchange, asset_class = excluded.asset_class, status = excluded.status, "
    "tradable = excluded.tradable, marginable = excluded.marginable, "
    "shortable = excluded.shortable, easy_to_borrow = excluded.easy_to_borrow, "
    "fractionable = excluded.fractionable, payload = excluded.payload, "
    "source = excluded.source, updated_at = now() "
    "where (raw.assets.symbol, raw.assets.name, raw.assets.exchange, raw.assets.asset_class, "
    "raw.assets.status, raw.assets.tradable, raw.assets.marginable, raw.assets.shortable, "
    "raw.assets.easy_to_borrow, raw.assets.fractionable, raw.assets.payload, raw.assets.source) "
    "is distinct from (excluded.symbol, excluded.name, excluded.exchange, excluded.asset_class, "
    "excluded.status, excluded.tradable, excluded.marginable, excluded.shortable, "
    "excluded.easy_to_borrow, excluded.fractionable, excluded.payload, excluded.source)"
)

# Symbols are unique in raw.assets and the check is immediate, so an asset that takes over
# another's symbol in the same sync (a swap, a reassignment) first parks its old one here.
PARK_SYMBOLS = text("update raw.assets set symbol = '~' || id where id = any(:ids)")


class AssetRecord(BaseModel):
    """One asset as GET /v2/assets returns it."""

    id: UUID
    symbol: str = Field(min_length=1)
    name: str | None = None
    exchange: str
    asset_class: str = Field(alias="class")
    status: str
    tradable: bool
    marginable: bool
    shortable: bool
    easy_to_borrow: bool
    fractionable: bool


def _without_symbol_clashes(
    held: dict[str, str], assets: list[tuple[AssetRecord, Any]]
) -> tuple[list[tuple[AssetRecord, Any]], list[Rejected]]:
    """Set aside assets whose symbol another asset would hold after landing (symbols are unique).

    `held` maps the ids in raw.assets to their symbols. An active asset wins a symbol over an
    inactive one, then the asset that already holds it, then the one listed first.
    """
    keep = sorted(
        assets,
        key=lambda pair: (pair[0].status != "active", held.get(str(pair[0].id)) != pair[0].symbol),
    )
    rejected: list[Rejected] = []
    while True:
        kept_ids = {str(asset.id) for asset, _ in keep}
        # Rows this sync does not touch keep their symbol.
        owner = {symbol: asset_id for asset_id, symbol in held.items() if asset_id not in kept_ids}
        winners: list[tuple[AssetRecord, Any]] = []
        for asset, raw in keep:
            holder = owner.setdefault(asset.symbol, str(asset.id))
            if holder == str(asset.id):
                winners.append((asset, raw))
            else:
                reason = f"symbol: already held by asset {holder} (value {asset.symbol!r})"
                rejected.append((asset.symbol, reason, raw))
        if len(winners) == len(keep):
            return keep, rejected
        keep = winners


def land_assets(conn: Connection, records: Sequence[Any], source: str = ALPACA) -> tuple[int, int]:
    """Upsert decoded asset records, quarantining malformed ones.

    Returns (rows new or changed, records quarantined). `source` says who sent them
    (`config.alpaca.source_of`).
    """
    checked = check_records(AssetRecord, records, key_field="symbol")
    rows = conn.execute(text("select id, symbol from raw.assets"))
    held = {str(asset_id): str(symbol) for asset_id, symbol in rows}
    keep, clashes = _without_symbol_clashes(held, checked.valid)
    moving = [str(a.id) for a, _ in keep if held.get(str(a.id), a.symbol) != a.symbol]
    quarantined = quarantine_records(conn, "asset", source, [*checked.rejected, *clashes])
    if not keep:
        return 0, quarantined
    if moving:
        conn.execute(PARK_SYMBOLS, {"ids": moving})
    result = conn.execute(
        UPSERT_ASSET,
        [
            {
                **asset.model_dump(exclude={"id"}),
                "id": str(asset.id),
                "payload": payload_json(raw),
                "source": source,
            }
            for asset, raw in keep
        ],
    )
    return result.rowcount, quarantined


def sync_assets(client: TradingClient, engine: Engine) -> RunRecord:
    """Land every asset the broker lists, with its run record (landed = new or changed).

    The raw JSON is fetched (not alpaca-py's Asset models) so that the payload is the original
    record and one malformed asset is quarantined instead of failing the whole list.
    """
    run = RunRecord("assets", ALPACA, {})
    records = fetch_records(client, "/assets")
    run.source = source_of(client)  # known now that the broker has answered
    with engine.begin() as conn:
        changed, quarantined = land_assets(conn, records, run.source)
        record_sync(conn, run, len(records), changed, quarantined)
    logger.bind(fetched=len(records)).info("assets landed: {} new or changed", changed)
    return run
