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

from ingestion.records import (
    ALPACA,
    check_records,
    fetch_records,
    payload_json,
    quarantine_records,
)

INSERT_ACCOUNT = text(
    "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, equity, "
    "buying_power, long_market_value, last_equity, payload) values (:at, :id, :status, :cash, "
    ":equity, :buying_power, :long_market_value, :last_equity, cast(:payload as jsonb)) "
    "on conflict (snapshot_at) do nothing returning snapshot_at"
)

INSERT_POSITION = text(
    "insert into raw.position_snapshots (snapshot_at, symbol, qty, avg_entry_price, "
    "market_value, cost_basis, unrealized_pl, current_price, payload) values (:at, :symbol, "
    ":qty, :avg_entry_price, :market_value, :cost_basis, :unrealized_pl, :current_price, "
    "cast(:payload as jsonb))"
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


def _land_positions(conn: Connection, at: datetime, records: Sequence[Any]) -> None:
    """Insert the valid positions of a snapshot; quarantine the malformed ones."""
    checked = check_records(PositionRecord, records, key_field="symbol")
    quarantine_records(conn, "position", ALPACA, checked.rejected)
    if checked.valid:
        conn.execute(
            INSERT_POSITION,
            [
                {**position.model_dump(), "at": at, "payload": payload_json(raw)}
                for position, raw in checked.valid
            ],
        )


def land_snapshot(
    conn: Connection, at: datetime, account: Any, positions: Sequence[Any]
) -> AccountRecord | None:
    """Record decoded account and position records as of `at`; None if the account was malformed.

    A malformed account or position goes to raw.quarantine_records. The first snapshot at a given
    time stands: re-running a past cycle rewrites no history.
    """
    checked = check_records(AccountRecord, [account], key_field="id")
    quarantine_records(conn, "account", ALPACA, checked.rejected)
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
        },
    ).scalar()
    if first:
        _land_positions(conn, at, positions)
    return record


def snapshot_account(client: TradingClient, engine: Engine, at: datetime) -> TradeAccount:
    """Record the account and open positions as of `at` (the broker clock's time).

    The first snapshot at a given time stands: re-running a past cycle rewrites no history.
    Raises AccountRecordError, after quarantining it, when the account record is malformed.
    """
    account = client.get("/account")
    positions = fetch_records(client, "/positions")
    with engine.begin() as conn:
        record = land_snapshot(conn, at, account, positions)
    if record is None:
        raise AccountRecordError("GET /v2/account failed validation; see raw.quarantine_records")
    return record
