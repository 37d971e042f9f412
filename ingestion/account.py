"""Snapshot the broker account and positions into raw.account_snapshots / raw.position_snapshots."""

from __future__ import annotations

from datetime import datetime

from alpaca.trading.client import TradingClient
from alpaca.trading.models import Position, TradeAccount
from sqlalchemy import Engine, text


def snapshot_account(client: TradingClient, engine: Engine, at: datetime) -> TradeAccount:
    """Record the account and open positions as of `at` (the broker clock's time).

    The first snapshot at a given time stands: re-running a past cycle rewrites no history.
    """
    account: TradeAccount = client.get_account()  # type: ignore[assignment]
    positions: list[Position] = client.get_all_positions()  # type: ignore[assignment]
    with engine.begin() as conn:
        first = conn.execute(
            text(
                "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, equity, "
                "buying_power, long_market_value, last_equity, payload) values (:at, :id, "
                ":status, :cash, :equity, :buying_power, :long_market_value, :last_equity, "
                "cast(:payload as jsonb)) "
                "on conflict (snapshot_at) do nothing returning snapshot_at"
            ),
            {
                "at": at,
                "id": str(account.id),
                "status": account.status.value,
                "cash": account.cash,
                "equity": account.equity,
                "buying_power": account.buying_power,
                "long_market_value": account.long_market_value,
                "last_equity": account.last_equity,
                "payload": account.model_dump_json(),
            },
        ).scalar()
        if first and positions:
            conn.execute(
                text(
                    "insert into raw.position_snapshots (snapshot_at, symbol, qty, "
                    "avg_entry_price, market_value, cost_basis, unrealized_pl, current_price, "
                    "payload) values (:at, :symbol, :qty, :avg_entry_price, :market_value, "
                    ":cost_basis, :unrealized_pl, :current_price, cast(:payload as jsonb))"
                ),
                [
                    {
                        "at": at,
                        "symbol": p.symbol,
                        "qty": p.qty,
                        "avg_entry_price": p.avg_entry_price,
                        "market_value": p.market_value,
                        "cost_basis": p.cost_basis,
                        "unrealized_pl": p.unrealized_pl,
                        "current_price": p.current_price,
                        "payload": p.model_dump_json(),
                    }
                    for p in positions
                ],
            )
    return account
