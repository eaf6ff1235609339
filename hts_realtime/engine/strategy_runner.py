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
after the commit (``apply_staged``); a failed commit leaves every run as the
database has it. (A rule's indicators are not stored: they have seen the
price either way.) Definitions and state persist: after a restart, runs
that were running start again (their indicators warm up anew from live
prices).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime
from typing import Any

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
from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.engine.journal import Journal
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
from hts_realtime.storage.store import Store

log = logging.getLogger("hts.strategies")


StrategyFactory = Callable[[str, Mapping[str, object]], Strategy]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class StrategyRunner:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        commits: GroupCommit,
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
        self.journal = journal
        self.commits = commits
        self.master = master
        self.broker = broker
        self.status_interval = status_interval
        self.max_per_user = max_per_user
        self.max_quantity = max_quantity
        self.factory = factory
        self.clock = clock
        self.history = history or SignalHistory(store, keep=100)
        self._runs: dict[str, StrategyRun] = {}
        self._by_symbol: dict[str, list[StrategyRun]] = {}
        self.store = StrategyStore(store)
        broker.fill_listeners.append(self)

    # -- lifecycle ---------------------------------------------------------------------
    def forget(self) -> None:
        """Drop every run from memory (stepping down)."""
        self._runs, self._by_symbol = {}, {}

    async def load(self) -> None:
        """Every stored run, and the running ones scheduled again (at start, and when
        this engine takes the lead; their indicators warm up anew from live prices)."""
        self.forget()
        for run in await self.store.all():
            self._runs[run.strategy_id] = run
            if run.state == RUNNING:
                try:
                    run.rule = self.factory(run.kind, run.params)
                except Exception as exc:  # a definition that no longer builds
                    run.state, run.reason = ERROR, f"cannot restart: {exc}"
                    continue
                self._by_symbol.setdefault(run.symbol, []).append(run)
        for strategy_id, order_id in (await self.store.open_orders()).items():
            if strategy_id in self._runs:
                self._runs[strategy_id].open_order_id = order_id
        await self.broker.prepare({run.user_id for run in self._runs.values()})

    async def create(self, user_id: str, kind: str, symbol: str,
                     params: Mapping[str, object], quantity: int,
                     auto_trade: bool) -> StrategyRun:
        if symbol not in self.master:
            raise UnknownSymbol(f"unknown symbol {symbol!r}")
        if not 0 < quantity <= self.max_quantity:
            raise InvalidStrategy(f"quantity must be between 1 and {self.max_quantity}")
        try:
            rule = self.factory(kind, params)
        except StrategyParamsError as exc:
            raise InvalidStrategy(str(exc)) from exc
        now = _now()
        run = StrategyRun(
            strategy_id="STR" + secrets.token_hex(6).upper(), user_id=user_id, kind=kind,
            symbol=symbol, params=rule.params(), quantity=quantity, auto_trade=auto_trade,
            state=CREATED, created_at=now, updated_at=now,
        )

        def work(tx: Tx) -> StrategyRun:
            if sum(1 for r in self._runs.values() if r.user_id == user_id) >= self.max_per_user:
                raise Conflict(f"at most {self.max_per_user} strategies per user")
            self.store.insert(tx, run)
            tx.put(self, ("new", run.strategy_id), run)
            tx.publish([self._status(tx, run)])
            return run

        return await self.commits.run(work, users=(user_id,))

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

    def symbols(self) -> set[str]:
        """Symbols with a running strategy (a real feed must stream their prints)."""
        return {symbol for symbol, runs in self._by_symbol.items() if runs}

    async def start(self, user_id: str, strategy_id: str) -> StrategyRun:
        run = self.get(user_id, strategy_id)
        if run.state == RUNNING:
            return run
        rule = self.factory(run.kind, run.params)

        def schedule() -> None:
            if run.state == RUNNING and run.rule is None:
                run.rule = rule
                self._by_symbol.setdefault(run.symbol, []).append(run)

        await self._set_state(run, RUNNING, None, schedule)
        return run

    async def stop(self, user_id: str, strategy_id: str) -> StrategyRun:
        run = self.get(user_id, strategy_id)
        if run.state == RUNNING:
            await self._set_state(run, STOPPED, None, lambda: self._unschedule(run))
        return run

    async def delete(self, user_id: str, strategy_id: str) -> None:
        run = self.get(user_id, strategy_id)
        gone = dataclasses.replace(run, state=DELETED, updated_at=_now())

        def forget() -> None:
            self._unschedule(run)
            self._runs.pop(strategy_id, None)

        def work(tx: Tx) -> None:
            self.store.delete(tx, strategy_id)
            self.history.forget(tx, strategy_id)
            tx.publish([self._status(tx, gone)])
            tx.on_commit(forget)

        await self.commits.run(work, users=(user_id,))

    def _unschedule(self, run: StrategyRun) -> None:
        runs = self._by_symbol.get(run.symbol, [])
        if run in runs:
            runs.remove(run)
            if not runs:
                del self._by_symbol[run.symbol]
        run.rule = None

    async def _set_state(self, run: StrategyRun, state: str, reason: str | None,
                         then: Callable[[], None]) -> None:
        def work(tx: Tx) -> None:
            new = self._stage(tx, run)
            new.state, new.reason, new.updated_at = state, reason, _now()
            self._save(tx, new)
            tx.publish([self._status(tx, new)])
            tx.on_commit(then)

        await self.commits.run(work, users=(run.user_id,))

    # -- the market drives the rules -------------------------------------------------------
    def on_quotes(self, quotes: list[Quote]) -> None:
        """Queue this step's prices for the running rules (a work of the next group commit,
        after the broker's matching of the same step)."""
        work = [(q, list(self._by_symbol.get(q.symbol, ()))) for q in quotes]
        if any(runs for _, runs in work):
            self.commits.submit(lambda tx: self._feed_all(tx, work),
                                users={run.user_id for _, runs in work for run in runs})

    def _feed_all(self, tx: Tx, work: list[tuple[Quote, list[StrategyRun]]]) -> None:
        now = self.clock()
        orders: list[tuple[StrategyRun, Side, int]] = []
        events: list[PrivateEvent] = []
        for q, runs in work:
            for run in runs:
                events.extend(self._feed(tx, run, q, now, orders))
        tx.publish(events)
        if orders:
            def place() -> None:
                for run, side, qty in orders:
                    self.commits.submit(self._placer(run, side, qty), users=(run.user_id,))
            tx.on_commit(place)

    def _placer(self, run: StrategyRun, side: Side, qty: int) -> Callable[[Tx], None]:
        return lambda tx: self._place(tx, run, side, qty)

    # -- staging: memory follows the commit ----------------------------------------------
    def _stage(self, tx: Tx, run: StrategyRun) -> StrategyRun:
        """The copy of ``run`` this transaction changes (the live run stays as committed)."""
        return tx.stage(self, ("run", run.strategy_id), lambda: run, dataclasses.replace)

    def apply_staged(self, key: Hashable, value: Any) -> None:
        assert isinstance(key, tuple)
        if key[0] == "new":
            self._runs.setdefault(key[1], value)
            return
        run = self._runs.get(key[1])
        if run is None:
            return
        for f in dataclasses.fields(StrategyRun):
            if f.name != "rule":
                setattr(run, f.name, getattr(value, f.name))
        if run.state == ERROR:
            self._unschedule(run)

    def _feed(self, tx: Tx, live: StrategyRun, q: Quote, now: float,
              orders: list[tuple[StrategyRun, Side, int]]) -> list[PrivateEvent]:
        if live.rule is None:
            return []  # stopped while this step waited for its group
        staged = tx.get(self, ("run", live.strategy_id))
        if staged is not Tx.MISSING and staged.state != RUNNING:
            return []
        run = self._stage(tx, live)
        run.last_price = q.price
        try:
            signal = live.rule.on_price(q.price)
        except Exception as exc:
            log.warning("strategy=%s user=%s failed: %r", run.strategy_id, run.user_id, exc)
            run.state, run.reason, run.updated_at = ERROR, f"strategy raised {exc!r}", _now()
            self._save(tx, run)
            return [self._status(tx, run)]
        events: list[PrivateEvent] = []
        changed = False
        if signal is not None:
            run.signals += 1
            qty = self._act(run, signal, q.price, orders)
            events.append(self._signal(tx, run, signal, qty, q))
            changed = qty > 0 and not run.auto_trade
        unrealized = run.unrealized_pnl
        due = (unrealized != run._reported_unrealized
               and now - run._status_at >= self.status_interval)
        if changed or due:
            run.updated_at = _now()
            self._save(tx, run)
            events.append(self._status(tx, run))
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

    def _place(self, tx: Tx, live: StrategyRun, side: Side, qty: int) -> None:
        """A work: the run's market order, through the broker's own path."""
        run = self._runs.get(live.strategy_id)
        if run is None or run.state != RUNNING:
            return
        req = OrderRequest(run.symbol, side, OrderType.MARKET, qty, None, run.strategy_id)
        try:
            order = self.broker.new_order(run.user_id, req)
            order, _ = self.broker.stage_place(tx, order, req, None)
        except HtsError as exc:
            # the refusal is the run's to show; the work itself succeeds (nothing written)
            log.info("strategy=%s order refused: %s", run.strategy_id, exc.code)
            self._stage(tx, run).reason = f"order refused: {exc.code}"
            return
        if order.status.is_open:
            self._stage(tx, run).open_order_id = order.order_id

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

    def stage(self, tx: Tx, order: Order, qty: int, price: int,
              costs: int) -> list[PrivateEvent]:
        """Broker fill listener: a strategy's own order filled (inside the fill's transaction).

        The run's P&L is after costs, like the account's."""
        live = self._runs.get(order.strategy_id or "")
        if live is None:
            return []
        run = self._stage(tx, live)
        self._apply_fill(run, order.side, qty, price, costs)
        run.last_price = price
        if not order.status.is_open and run.open_order_id == order.order_id:
            run.open_order_id = None
        run.updated_at = _now()
        self._save(tx, run)
        return [self._status(tx, run)]

    # -- persistence and events ------------------------------------------------------------
    def _save(self, tx: Tx, run: StrategyRun) -> None:
        self.store.save(tx, run)

    def _status(self, tx: Tx, run: StrategyRun) -> PrivateEvent:
        run._status_at = self.clock()
        run._reported_unrealized = run.unrealized_pnl
        return self.journal.append(
            tx, run.user_id, "strategy_status", strategy_topics(run.strategy_id),
            {"strategy_id": run.strategy_id, "data": run.status_data()},
        )

    def _signal(self, tx: Tx, run: StrategyRun, signal: Signal, qty: int,
                q: Quote) -> PrivateEvent:
        data = {
            "signal": signal.side.value, "symbol": run.symbol, "quantity": qty,
            "reason": signal.reason, "price": q.price, "timestamp": q.timestamp.isoformat(),
        }
        event = self.journal.append(
            tx, run.user_id, "strategy_signal", strategy_topics(run.strategy_id),
            {"strategy_id": run.strategy_id, "data": data},
        )
        self.history.record(tx, run.strategy_id, event.seq, data)
        return event

    async def signals(self, user_id: str, strategy_id: str,
                      limit: int) -> list[dict[str, object]]:
        """The run's newest signals (newest first); someone else's id is ``not_found``."""
        self.get(user_id, strategy_id)
        return await self.history.recent(strategy_id, limit)
