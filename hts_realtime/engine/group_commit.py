"""Group commit: many requests in one transaction, each answered after that commit.

Every state change of the engine is a *work*: a plain function that decides
on the engine's in-memory state and records, on a ``Tx``, the statements to
write, the new state of what it changed (staged copies), the events to
publish and what to do afterwards. Works queue up while a transaction
commits; the next transaction takes all of them, runs them one after the
other in arrival order (each sees the staged state of those before it), and
commits their statements at once: one COMMIT and one fsync for the whole
group. Then, and only then, the staged state is applied to memory, the
events published, and each caller's ``run`` returns its work's result.

* A work that raises (insufficient funds, not found) is dropped alone: its
  staged state and statements go, the others commit; its caller gets the
  exception.
* A commit that fails drops every staged change: memory stays as the
  database has it, and every caller of the group gets the error. When the
  engine no longer leads (the fence: ``StaleLeader``) or the database was lost
  mid-commit (``StoreUnavailable``: the outcome is unknown, so memory may no
  longer match the database), callers get ``unavailable`` (retry, with the
  same ``Idempotency-Key``) and the engine steps down (``on_stale``,
  ``on_unknown``): it rebuilds from the database before it serves again.
* A work names the users whose ledger and stream it touches (``users``); the
  committer reads the ones memory does not hold yet (``prepare``), once for
  the whole group, right before the group runs. A user already prepared costs
  a set lookup, and a work queued before a step-down finds its users read
  again after the rebuild instead of failing on a forgotten ledger.

Memory follows the database: nothing outside a ``Tx`` changes before the
commit that holds it has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Protocol, TypeVar

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.protocol.errors import HtsError, Unavailable
from hts_realtime.storage.store import Fence, Params, StaleLeader, Store, StoreUnavailable, Write

log = logging.getLogger("hts.commit")

T = TypeVar("T")
V = TypeVar("V")
_MISSING: Any = object()


class Staging(Protocol):
    """An owner of in-memory state that a ``Tx`` stages copies of."""

    def apply_staged(self, key: Hashable, value: Any) -> None:
        """After the commit: make ``value`` the committed state of ``key``."""


class Tx:
    """One work's view of a group transaction (``parent`` holds the works before it)."""

    def __init__(self, parent: Tx | None = None) -> None:
        self.parent = parent
        self.writes: list[Write] = []
        self.values: dict[tuple[Staging, Hashable], Any] = {}
        self.events: list[PrivateEvent] = []
        self.after: list[Callable[[], None]] = []

    # -- statements and events ---------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> None:
        self.writes.append((sql, params))

    def publish(self, events: list[PrivateEvent]) -> None:
        self.events.extend(events)

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the commit (after the staged state is applied)."""
        self.after.append(fn)

    # -- staged state --------------------------------------------------------------------------
    def get(self, owner: Staging, key: Hashable) -> Any:
        """The staged value of ``key`` in this transaction, or ``Tx.MISSING``."""
        tx: Tx | None = self
        while tx is not None:
            value = tx.values.get((owner, key), _MISSING)
            if value is not _MISSING:
                return value
            tx = tx.parent
        return _MISSING

    def staged_keys(self, owner: Staging) -> set[Hashable]:
        """Every key of ``owner`` staged so far in this transaction (earlier works too)."""
        keys: set[Hashable] = set()
        tx: Tx | None = self
        while tx is not None:
            keys.update(k for (o, k) in tx.values if o is owner)
            tx = tx.parent
        return keys

    def own(self, owner: Staging, key: Hashable) -> Any:
        """The value this work itself staged for ``key``, or ``Tx.MISSING``."""
        return self.values.get((owner, key), _MISSING)

    def put(self, owner: Staging, key: Hashable, value: Any) -> None:
        self.values[(owner, key)] = value

    def stage(self, owner: Staging, key: Hashable, load: Callable[[], V],
              copy: Callable[[V], V]) -> V:
        """This work's own copy of ``key`` to change: copied from the staged value of an
        earlier work of the group, or from the committed state (``load``)."""
        own = self.values.get((owner, key), _MISSING)
        if own is not _MISSING:
            return own  # type: ignore[no-any-return]
        earlier = self.parent.get(owner, key) if self.parent is not None else _MISSING
        value = copy(load() if earlier is _MISSING else earlier)
        self.values[(owner, key)] = value
        return value

    MISSING = _MISSING

    def merge_into_parent(self) -> None:
        parent = self.parent
        assert parent is not None
        parent.writes.extend(self.writes)
        parent.values.update(self.values)
        parent.events.extend(self.events)
        parent.after.extend(self.after)


Work = Callable[[Tx], Any]
Users = Iterable[str]
_Queued = tuple[Work, "asyncio.Future[Any] | None", tuple[str, ...]]


class GroupCommit:
    def __init__(self, store: Store, publish: Callable[[list[PrivateEvent]], None], *,
                 fence: Callable[[], Fence | None] = lambda: None,
                 on_stale: Callable[[str], Awaitable[None]] | None = None,
                 on_unknown: Callable[[str], Awaitable[None]] | None = None,
                 prepare: Callable[[set[str]], Awaitable[None]] | None = None,
                 prepared: Callable[[str], bool] = lambda user_id: True,
                 max_group: int = 2000) -> None:
        """``fence``: the lease each transaction must hold (it may raise ``StaleLeader``:
        this engine does not lead). ``prepare``/``prepared``: read the ledger and stream
        of users memory does not hold yet, before a group that touches them runs."""
        self.store = store
        self.publish = publish
        self.fence = fence
        self.on_stale = on_stale
        self.on_unknown = on_unknown
        self.prepare = prepare
        self.prepared = prepared
        self.max_group = max_group
        self._queue: list[_Queued] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.commits = 0
        self.works = 0
        self.largest_group = 0
        self.failed_commits = 0

    async def run(self, work: Callable[[Tx], T], users: Users = ()) -> T:
        """Queue ``work`` for the next group; its result once that group has committed.
        ``users``: whose ledger and stream the work reads (prepared before it runs)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future, tuple(users)))
        self._idle.clear()
        self._wake.set()
        return await future

    def submit(self, work: Work, users: Users = ()) -> None:
        """Queue ``work`` without waiting for it (the market step, a strategy's order);
        a failure is logged."""
        self._queue.append((work, None, tuple(users)))
        self._idle.clear()
        self._wake.set()

    async def settle(self) -> None:
        """Return once everything queued so far has committed (or failed): at shutdown,
        and for tests that step the market by hand."""
        await self._idle.wait()

    def pending(self) -> int:
        return len(self._queue)

    async def serve(self) -> None:
        """The committer: one group at a time, for as long as the engine runs."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, self._queue = (self._queue[:self.max_group],
                                      self._queue[self.max_group:])
                await self._commit_group(group)
            self._idle.set()

    async def _commit_group(self, group: list[_Queued]) -> None:
        try:
            fence = self.fence()  # before anything runs: a standby runs no work at all
            await self._prepare(group)
        except Exception as exc:
            for _, future, _ in group:
                _fail(future, _unavailable(exc))
            return
        batch = Tx()
        done: list[tuple[asyncio.Future[Any] | None, Any]] = []
        for work, future, _ in group:
            tx = Tx(batch)
            try:
                result = work(tx)
            except Exception as exc:
                _fail(future, exc)
                continue
            tx.merge_into_parent()
            done.append((future, result))
        if not done:
            return
        self.largest_group = max(self.largest_group, len(group))
        if batch.writes:
            try:
                await self.store.commit(batch.writes, fence)
            except Exception as exc:
                self.failed_commits += 1
                log.warning("group commit of %d works failed: %r", len(done), exc)
                for future, _ in done:
                    if future is not None:  # (the queued ones: logged just now)
                        _fail(future, _unavailable(exc))
                if isinstance(exc, StaleLeader) and self.on_stale is not None:
                    await self.on_stale(str(exc))
                elif isinstance(exc, StoreUnavailable) and self.on_unknown is not None:
                    await self.on_unknown(str(exc))
                return
        self.commits += 1
        self.works += len(done)
        for (owner, key), value in batch.values.items():
            owner.apply_staged(key, value)
        for fn in batch.after:
            try:
                fn()
            except Exception:
                log.exception("after-commit step failed")
        if batch.events:
            self.publish(batch.events)
        for future, result in done:
            if future is not None and not future.done():
                future.set_result(result)

    async def _prepare(self, group: list[_Queued]) -> None:
        """Read the users of this group that memory does not hold (one read for all);
        a user already prepared is skipped, whoever queued the work and when."""
        if self.prepare is None:
            return
        missing = {u for _, _, users in group for u in users if not self.prepared(u)}
        if missing:
            await self.prepare(missing)


def _unavailable(exc: Exception) -> Exception:
    """What a caller gets for a group that could not commit: ``unavailable`` (retry)
    when the engine lost the lead or the database; the statement's own error else."""
    if isinstance(exc, StaleLeader):
        return Unavailable("this engine no longer leads; retry (the same Idempotency-Key "
                           "is applied once)", retry_after=1.0)
    if isinstance(exc, StoreUnavailable):
        return Unavailable("the database is unreachable; retry (the same Idempotency-Key "
                           "is applied once)", retry_after=1.0)
    return exc


def _fail(future: asyncio.Future[Any] | None, exc: BaseException) -> None:
    if future is None:  # nobody waits: a refusal is the work's own business, a failure is ours
        if isinstance(exc, HtsError):
            log.info("queued work refused: %s", exc.code)
        else:
            log.warning("queued work failed: %r", exc)
        return
    with contextlib.suppress(asyncio.InvalidStateError):
        future.set_exception(exc)
