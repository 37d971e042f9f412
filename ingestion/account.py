"""Snapshot the broker account and positions into raw.account_snapshots / raw.position_snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from alpaca.trading.client import TradingClient
from alpaca.trading.models import TradeAccount
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import Connection, Engine, text

from config.alpaca import ALPACA, source_of
from ingestion.records import (
    check_records,
    fetch_records,
    payload_json,
    quarantine_records,
)

INSERT_ACCOUNT = text(
    "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, equity, "
    "buying_power, long_market_value, last_equity, payload, source) values (:at, :id, :status, "
    ":cash, :equity, :buying_power, :long_market_value, :last_equity, cast(:payload as jsonb), "
    ":source) "
    "on conflict (snapshot_at) do nothing returning snapshot_at"
)

INSERT_POSITION = text(
    "insert into raw.position_snapshots (snapshot_at, symbol, qty, avg_entry_price, "
    "market_value, cost_basis, unrealized_pl, current_price, payload, source) values (:at, "
    ":symbol, :qty, :avg_entry_price, :market_value, :cost_basis, :unrealized_pl, "
    ":current_price, cast(:payload as jsonb), :source)"
)


class AccountRecordError(ValueError):
    """GET /v2/account returned a record that failed validation (it is now quarantined)."""


def _finite_decimal(value: str) -> str:
    """Accept a decimal string as it is; reject text that is not a finite number."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("Input should be a valid decimal") from None
    if not number.is_finite():
        raise ValueError("Input should be a finite number")
    return value


DecimalText = Annotated[str, AfterValidator(_finite_decimal)]


class AccountRecord(TradeAccount):
    """alpaca-py's TradeAccount, also requiring the numbers raw.account_snapshots stores."""

    cash: DecimalText
    equity: DecimalText
    buying_power: DecimalText | None = None
    long_market_value: DecimalText | None = None
    last_equity: DecimalText | None = None


class PositionRecord(BaseModel):
    """One open position as GET /v2/positions returns it (numbers arrive as strings)."""

    symbol: str = Field(min_length=1)
    qty: Decimal
    avg_entry_price: Decimal
    market_value: Decimal | None = None
    cost_basis: Decimal | None = None
    unrealized_pl: Decimal | None = None
    current_price: Decimal | None = None


def _land_positions(conn: Connection, at: datetime, records: Sequence[Any], source: str) -> None:
    """Insert the valid positions of a snapshot; quarantine the malformed ones."""
    checked = check_records(PositionRecord, records, key_field="symbol")
    quarantine_records(conn, "position", source, checked.rejected)
    if checked.valid:
        conn.execute(
            INSERT_POSITION,
            [
                {**position.model_dump(), "at": at, "payload": payload_json(raw), "source": source}
                for position, raw in checked.valid
            ],
        )


def land_snapshot(
    conn: Connection,
    at: datetime,
    account: Any,
    positions: Sequence[Any],
    source: str = ALPACA,
) -> AccountRecord | None:
    """Record decoded account and position records as of `at`; None if the account was malformed.

    A malformed account or position goes to raw.quarantine_records. The first snapshot at a given
    time stands: re-running a past cycle rewrites no history. `source` says who sent them
    (`config.alpaca.source_of`).
    """
    checked = check_records(AccountRecord, [account], key_field="id")
    quarantine_records(conn, "account", source, checked.rejected)
    if not checked.valid:
        return None
    record, raw = checked.valid[0]
    first = conn.execute(
        INSERT_ACCOUNT,
        {
            "at": at,
            "id": str(record.id),
            "status": record.status.value,
            "cash": record.cash,
            "equity": record.equity,
            "buying_power": record.buying_power,
            "long_market_value": record.long_market_value,
            "last_equity": record.last_equity,
            "payload": payload_json(raw),
            "source": source,
        },
    ).scalar()
    if first:
        _land_positions(conn, at, positions, source)
    return record


def snapshot_account(client: TradingClient, engine: Engine, at: datetime) -> TradeAccount:
    """Record the account and open positions as of `at` (the broker clock's time).

    The first snapshot at a given time stands: re-running a past cycle rewrites no history.
    Raises AccountRecordError, after quarantining it, when the account record is malformed.
    """
    account = client.get("/account")
    positions = fetch_records(client, "/positions")
    with engine.begin() as conn:
        record = land_snapshot(conn, at, account, positions, source_of(client))
    if record is None:
        raise AccountRecordError("GET /v2/account failed validation; see raw.quarantine_records")
    return record
