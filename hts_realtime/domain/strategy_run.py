"""One strategy run: its definition, state, position and P&L, and how they look on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hts_realtime.domain.strategies.base import Strategy

CREATED, RUNNING, STOPPED, ERROR, DELETED = "created", "running", "stopped", "error", "deleted"


@dataclass(eq=False)
class StrategyRun:
    strategy_id: str
    user_id: str
    kind: str
    symbol: str
    params: dict[str, Any]
    quantity: int
    auto_trade: bool
    state: str
    created_at: str
    updated_at: str
    reason: str | None = None
    position: int = 0
    cost: int = 0
    realized_pnl: int = 0
    rule: Strategy | None = None
    last_price: int | None = None
    open_order_id: str | None = None
    signals: int = 0
    _status_at: float = field(default=0.0)
    _reported_unrealized: int = 0

    @property
    def unrealized_pnl(self) -> int:
        if not self.position or self.last_price is None:
            return 0
        return self.position * self.last_price - self.cost

    def to_wire(self) -> dict[str, Any]:
        return {
            "strategy_id": self.strategy_id,
            "kind": self.kind,
            "symbol": self.symbol,
            "params": self.params,
            "quantity": self.quantity,
            "auto_trade": self.auto_trade,
            "state": self.state,
            "reason": self.reason,
            "position": self.position,
            "avg_price": (2 * self.cost + self.position) // (2 * self.position)
            if self.position else 0,
            "last_price": self.last_price,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "signals": self.signals,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def status_data(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "position": self.position,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "updated_at": self.updated_at,
            "symbol": self.symbol,
            "kind": self.kind,
            "last_price": self.last_price,
            "reason": self.reason,
        }
