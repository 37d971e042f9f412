"""The execute step: the approved orders, sent unless trading is halted at the moment of sending."""

from __future__ import annotations

from dataclasses import dataclass

from alpaca.trading.client import TradingClient
from sqlalchemy import Engine

from execution.kill_switch import Halt, current_halt
from execution.orders import ApprovedOrder, approved_orders
from execution.submit import ExecutionSummary, submit_orders


@dataclass(frozen=True)
class ExecuteResult:
    """What one execute step saw and did: nothing was sent when `halted` is set."""

    orders: list[ApprovedOrder]
    halted: Halt | None
    summary: ExecutionSummary | None


def execute_approved(client: TradingClient, engine: Engine, trading_mode: str) -> ExecuteResult:
    """Read marts.approved_orders, check the halt last (a `trading halt` issued after the build
    still stops them), then submit each exactly once."""
    orders = approved_orders(engine)
    halted = current_halt(engine)
    if halted is not None:
        return ExecuteResult(orders, halted, None)
    return ExecuteResult(orders, None, submit_orders(client, engine, orders, trading_mode))
