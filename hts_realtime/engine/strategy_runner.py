"""Live strategy runs: definitions, running state, signals, positions and P&L.

A run wraps one ``Strategy`` rule on one symbol for one user. The runner
feeds every running strategy each trade of its symbol (``on_quotes``), and
reports through the user's private stream, in the same transaction as the
state change it reports:

* ``strategy_signal`` on every signal the rule emits;
* ``strategy_status`` on every change of state or position at once, and on
  P&L-only changes (the price moved) at most once per ``status_interval``.

Positions are long-only. With ``auto_trade`` a BUY signal while flat places
a market buy of ``quantity`` through the broker (the same path as
``POST /api/orders``) and a SELL while long sells the whole position; the
run's position and P&L then follow its orders' real fills. Without
``auto_trade`` the run keeps a hypothetical position at signal prices, so
its P&L shows how the rule would have done.

A rule that raises stops its run with state ``error`` and the reason; the
other runs go on.

Memory follows the database: a run's position, P&L and state change on a
staged copy inside the transaction and are copied onto the live run only
after the commit (``commit``); a failed commit leaves every run as the
database has it. (A rule's indicators are not stored: they have seen the
price either way.) Definitions and state persist: after a restart, runs
that were running start again (their indicators warm up anew from live
prices).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.domain.market import Quote
from hts_realtime.domain.orders import Order, OrderType, Side
from hts_realtime.domain.strategies.base import Signal, Strategy, StrategyParamsError
from hts_realtime.domain.strategies.registry import build_strategy
from hts_realtime.domain.strategy_run import (
    CREATED,
    DELETED,
    ERROR,
    RUNNING,
    STOPPED,
    StrategyRun,
)
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.broker import OrderRequest, PaperBroker
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.signal_history import SignalHistory
from hts_realtime.engine.strategy_store import StrategyStore
from hts_realtime.protocol.errors import (
    Conflict,
    HtsError,
    InvalidStrategy,
    NotFound,
    UnknownSymbol,
)
from hts_realtime.protocol.topics import strategy_topics
from hts_realtime.storage.db import Database

log = logging.getLogger("hts.strategies")


StrategyFactory = Callable[[str, Mapping[str, object]], Strategy]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class StrategyRunner:
    def __init__(
        self,
        db: Database,
        journal: Journal,
        bus: EventBus,
        master: SymbolMaster,
        broker: PaperBroker,
        *,
        status_interval: float = 1.0,
        max_per_user: int = 100,
        max_quantity: int = 1_000_000,
        factory: StrategyFactory = build_strategy,
        clock: Callable[[], float] = time.monotonic,
        history: SignalHistory | None = None,
    ) -> None:
        self.db = db
        self.journal = journal
        self.bus = bus
        self.master = master
        self.broker = broker
        self.status_interval = status_interval
        self.max_per_user = max_per_user
        self.max_quantity = max_quantity
        self.factory = factory
        self.clock = clock
        self.history = history or SignalHistory(db, keep=100)
        self._runs: dict[str, StrategyRun] = {}
        self._by_symbol: dict[str, list[StrategyRun]] = {}
        self._staged: dict[str, StrategyRun] = {}
        self.store = StrategyStore(db)
        broker.fill_listeners.append(self)
        self._load()

    # -- lifecycle ---------------------------------------------------------------------
    def _load(self) -> None:
        for run in self.store.all():
            self._runs[run.strategy_id] = run
            if run.state == RUNNING:
                try:
                    run.rule = self.factory(run.kind, run.params)
                except Exception as exc:  # a definition that no longer builds
                    run.state, run.reason = ERROR, f"cannot restart: {exc}"
                    continue
                self._by_symbol.setdefault(run.symbol, []).append(run)
        for strategy_id, order_id in self.store.open_orders().items():
            if strategy_id in self._runs:
                self._runs[strategy_id].open_order_id = order_id

    def create(self, user_id: str, kind: str, symbol: str, params: Mapping[str, object],
               quantity: int, auto_trade: bool) -> StrategyRun:
        if symbol not in self.master:
            raise UnknownSymbol(f"unknown symbol {symbol!r}")
        if not 0 < quantity <= self.max_quantity:
            raise InvalidStrategy(f"quantity must be between 1 and {self.max_quantity}")
        try:
            rule = self.factory(kind, params)
        except StrategyParamsError as exc:
            raise InvalidStrategy(str(exc)) from exc
        if sum(1 for r in self._runs.values() if r.user_id == user_id) >= self.max_per_user:
            raise Conflict(f"at most {self.max_per_user} strategies per user")
        now = _now()
        run = StrategyRun(
            strategy_id="STR" + secrets.token_hex(6).upper(), user_id=user_id, kind=kind,
            symbol=symbol, params=rule.params(), quantity=quantity, auto_trade=auto_trade,
            state=CREATED, created_at=now, updated_at=now,
        )
        with self.db.transaction() as conn:
            self.store.insert(conn, run)
            events = [self._status(conn, run)]
        self._runs[run.strategy_id] = run
        self.bus.publish(events)
        return run

    def owner_of(self, strategy_id: str) -> str | None:
        run = self._runs.get(strategy_id)
        return run.user_id if run else None

    def get(self, user_id: str, strategy_id: str) -> StrategyRun:
        run = self._runs.get(strategy_id)
        if run is None or run.user_id != user_id:
            raise NotFound(f"no strategy {strategy_id!r}")
        return run

    def list_runs(self, user_id: str) -> list[StrategyRun]:
        return [r for r in self._runs.values() if r.user_id == user_id]

    def running(self) -> int:
        return sum(len(v) for v in self._by_symbol.values())

    def start(self, user_id: str, strategy_id: str) -> StrategyRun:
        run = self.get(user_id, strategy_id)
        if run.state == RUNNING:
            return run
        rule = self.factory(run.kind, run.params)
        self._set_state(run, RUNNING, None)
        run.rule = rule
        self._by_symbol.setdefault(run.symbol, []).append(run)
        return run

    def stop(self, user_id: str, strategy_id: str) -> StrategyRun:
        run = self.get(user_id, strategy_id)
        if run.state == RUNNING:
            self._set_state(run, STOPPED, None)
            self._unschedule(run)
        return run

    def delete(self, user_id: str, strategy_id: str) -> None:
        run = self.get(user_id, strategy_id)
        gone = dataclasses.replace(run, state=DELETED, updated_at=_now())
        with self.db.transaction() as conn:
            self.store.delete(conn, strategy_id)
            self.history.forget(conn, strategy_id)
            events = [self._status(conn, gone)]
        self._unschedule(run)
        del self._runs[strategy_id]
        self.bus.publish(events)

    def _unschedule(self, run: StrategyRun) -> None:
        runs = self._by_symbol.get(run.symbol, [])
        if run in runs:
            runs.remove(run)
            if not runs:
                del self._by_symbol[run.symbol]
        run.rule = None

    def _set_state(self, run: StrategyRun, state: str, reason: str | None) -> None:
        new = dataclasses.replace(run, state=state, reason=reason, updated_at=_now())
        with self.db.transaction() as conn:
            self._save(conn, new)
            events = [self._status(conn, new)]
        run.state, run.reason, run.updated_at = new.state, new.reason, new.updated_at
        run._status_at, run._reported_unrealized = new._status_at, new._reported_unrealized
        self.bus.publish(events)

    # -- the market drives the rules -------------------------------------------------------
    def on_quotes(self, quotes: list[Quote]) -> None:
        events: list[PrivateEvent] = []
        orders: list[tuple[StrategyRun, Side, int]] = []
        work = [(q, list(self._by_symbol.get(q.symbol, ()))) for q in quotes]
        if not any(runs for _, runs in work):
            return
        now = self.clock()
        try:
            with self.db.transaction() as conn:
                for q, runs in work:
                    for run in runs:
                        events.extend(self._feed(conn, run, q, now, orders))
        except BaseException:
            self.rollback()
            raise
        self.commit()
        self.bus.publish(events)
        for run, side, qty in orders:
            self._place(self._runs.get(run.strategy_id, run), side, qty)

    # -- staging: memory follows the commit ----------------------------------------------
    def _stage(self, run: StrategyRun) -> StrategyRun:
        """The copy of ``run`` this transaction changes (the live run stays as committed)."""
        copy = self._staged.get(run.strategy_id)
        if copy is None:
            copy = self._staged[run.strategy_id] = dataclasses.replace(run)
        return copy

    def commit(self) -> None:
        staged, self._staged = self._staged, {}
        for sid, new in staged.items():
            run = self._runs.get(sid)
            if run is None:
                continue
            for f in dataclasses.fields(StrategyRun):
                if f.name != "rule":
                    setattr(run, f.name, getattr(new, f.name))
            if run.state == ERROR:
                self._unschedule(run)

    def rollback(self) -> None:
        self._staged = {}

    def _feed(self, conn: sqlite3.Connection, live: StrategyRun, q: Quote, now: float,
              orders: list[tuple[StrategyRun, Side, int]]) -> list[PrivateEvent]:
        assert live.rule is not None
        if live.strategy_id in self._staged and self._staged[live.strategy_id].state == ERROR:
            return []
        run = self._stage(live)
        run.last_price = q.price
        try:
            signal = live.rule.on_price(q.price)
        except Exception as exc:
            log.warning("strategy=%s user=%s failed: %r", run.strategy_id, run.user_id, exc)
            run.state, run.reason, run.updated_at = ERROR, f"strategy raised {exc!r}", _now()
            self._save(conn, run)
            return [self._status(conn, run)]
        events: list[PrivateEvent] = []
        changed = False
        if signal is not None:
            run.signals += 1
            qty = self._act(run, signal, q.price, orders)
            events.append(self._signal(conn, run, signal, qty, q))
            changed = qty > 0 and not run.auto_trade
        unrealized = run.unrealized_pnl
        due = (unrealized != run._reported_unrealized
               and now - run._status_at >= self.status_interval)
        if changed or due:
            run.updated_at = _now()
            self._save(conn, run)
            events.append(self._status(conn, run))
        return events

    def _act(self, run: StrategyRun, signal: Signal, price: int,
             orders: list[tuple[StrategyRun, Side, int]]) -> int:
        """What a signal does to the position; returns the quantity it trades."""
        if signal.side is Side.BUY and run.position == 0:
            qty = run.quantity
        elif signal.side is Side.SELL and run.position > 0:
            qty = run.position
        else:
            return 0
        if run.auto_trade:
            if run.open_order_id is not None:
                return 0  # the previous order is still working
            orders.append((run, signal.side, qty))
        else:
            self._apply_fill(run, signal.side, qty, price)
        return qty

    def _place(self, run: StrategyRun, side: Side, qty: int) -> None:
        if run.state != RUNNING:
            return
        req = OrderRequest(run.symbol, side, OrderType.MARKET, qty, None, run.strategy_id)
        try:
            order, _ = self.broker.place(run.user_id, req)
        except HtsError as exc:
            log.info("strategy=%s order refused: %s", run.strategy_id, exc.code)
            run.reason = f"order refused: {exc.code}"
            return
        if order.status.is_open:
            run.open_order_id = order.order_id

    @staticmethod
    def _apply_fill(run: StrategyRun, side: Side, qty: int, price: int, costs: int = 0) -> None:
        if side is Side.BUY:
            run.position += qty
            run.cost += qty * price + costs
        else:
            out = run.cost if qty == run.position else run.cost * qty // run.position
            run.realized_pnl += qty * price - costs - out
            run.position -= qty
            run.cost -= out

    def stage(self, conn: sqlite3.Connection, order: Order, qty: int, price: int,
              costs: int) -> list[PrivateEvent]:
        """Broker fill listener: a strategy's own order filled (inside the fill's transaction).

        The run's P&L is after costs, like the account's."""
        live = self._runs.get(order.strategy_id or "")
        if live is None:
            return []
        run = self._stage(live)
        self._apply_fill(run, order.side, qty, price, costs)
        run.last_price = price
        if not order.status.is_open and run.open_order_id == order.order_id:
            run.open_order_id = None
        run.updated_at = _now()
        self._save(conn, run)
        return [self._status(conn, run)]

    # -- persistence and events ------------------------------------------------------------
    def _save(self, conn: sqlite3.Connection, run: StrategyRun) -> None:
        self.store.save(conn, run)

    def _status(self, conn: sqlite3.Connection, run: StrategyRun) -> PrivateEvent:
        run._status_at = self.clock()
        run._reported_unrealized = run.unrealized_pnl
        return self.journal.append(
            conn, run.user_id, "strategy_status", strategy_topics(run.strategy_id),
            {"strategy_id": run.strategy_id, "data": run.status_data()},
        )

    def _signal(self, conn: sqlite3.Connection, run: StrategyRun, signal: Signal, qty: int,
                q: Quote) -> PrivateEvent:
        data = {
            "signal": signal.side.value, "symbol": run.symbol, "quantity": qty,
            "reason": signal.reason, "price": q.price, "timestamp": q.timestamp.isoformat(),
        }
        event = self.journal.append(
            conn, run.user_id, "strategy_signal", strategy_topics(run.strategy_id),
            {"strategy_id": run.strategy_id, "data": data},
        )
        self.history.record(conn, run.strategy_id, event.seq, data)
        return event

    def signals(self, user_id: str, strategy_id: str, limit: int) -> list[dict[str, object]]:
        """The run's newest signals (newest first); someone else's id is ``not_found``."""
        self.get(user_id, strategy_id)
        return self.history.recent(strategy_id, limit)
