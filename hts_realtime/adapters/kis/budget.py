"""The registration budget: which (TR, symbol) pairs hold the session's slots.

KIS allows one WebSocket session per app key and about 41 registrations in
it (a registration is one TR for one symbol: 체결 and 호가 of one symbol are
two). Client demand usually wants more. This module decides, purely and
with the clock passed in, what to register and what to release:

* **Never past the budget.** A slot counts from the moment its subscribe is
  sent until the broker confirms its release, so what is registered at the
  broker is never more than ``limit``, even with replies in flight.
* **Rank** = (priority, most recently wanted first). Priority 0 is the
  engine's own need (symbols with open paper orders or running strategies),
  1 a client topic, 2 extras (the VI feed of a wanted symbol).
* **Minimum hold.** A registration still wanted is given up for a better
  ranked one only after it has been held ``min_hold`` seconds, so a client
  flipping through symbols cannot make the session thrash. One nobody wants
  any more is released at once when someone waits for its slot, else after
  ``min_hold`` (it may be wanted again in a moment).
* **A refusal lowers the budget.** ``MAX SUBSCRIBE OVER`` means the broker's
  real limit is what we hold: ``limit`` drops to that and stays there.

What is wanted and not held is *limited*: its subscribers are told, and
served by REST snapshots at a bounded rate instead (``rest``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

Item = tuple[str, str]  # (tr_id, symbol)

ENGINE, CLIENT, EXTRA = 0, 1, 2
REFUSED_RETRY_SECONDS = 300.0  # a pair the broker refused (a bad key): try again after this


class Reply(Enum):
    SUBSCRIBED = "subscribed"  # OPSP0000, or OPSP0002 (already registered: it is ours)
    RELEASED = "released"  # OPSP0001, or OPSP0003 (was not registered: the slot is free)
    FULL = "full"  # OPSP0008 MAX SUBSCRIBE OVER
    REFUSED = "refused"  # any other refusal of a subscribe (bad tr_key, ...)
    FAILED = "failed"  # a refused unsubscribe: assume it is still registered


@dataclass(frozen=True, slots=True)
class Want:
    priority: int
    wanted_at: float


@dataclass(frozen=True, slots=True)
class Action:
    subscribe: bool
    item: Item


class RegistrationBudget:
    def __init__(self, limit: int = 41, min_hold: float = 30.0) -> None:
        if limit < 1:
            raise ValueError("the registration budget must be at least 1")
        self.limit = limit
        self.configured_limit = limit
        self.min_hold = min_hold
        self._wanted: dict[Item, Want] = {}
        self._held: dict[Item, float] = {}  # confirmed registrations -> held since
        self._subscribing: set[Item] = set()  # sent, no reply yet
        self._releasing: set[Item] = set()  # unsubscribe sent; the slot counts until its reply
        self._refused: dict[Item, float] = {}  # item -> not before
        self._unwanted_since: dict[Item, float] = {}
        self.evictions = 0
        self.refusals = 0

    # -- what the broker holds -------------------------------------------------------------
    @property
    def used(self) -> int:
        """Slots in use at the broker, counting requests in flight (a registration being
        released stays in ``_held`` until the broker confirms)."""
        return len(self._held) + len(self._subscribing)

    def held(self) -> set[Item]:
        return set(self._held)

    def is_held(self, item: Item) -> bool:
        return item in self._held and item not in self._releasing

    # -- demand ----------------------------------------------------------------------------
    def set_demand(self, wanted: Mapping[Item, Want], now: float) -> None:
        for item in self._wanted.keys() - wanted.keys():
            self._unwanted_since.setdefault(item, now)
        for item in wanted:
            self._unwanted_since.pop(item, None)
        self._wanted = dict(wanted)

    def limited(self) -> set[str]:
        """Symbols with a wanted registration that is not held and will not be at the next
        plan either: no free slot for it (or the broker refused it). One that is merely
        on its way — a subscribe in flight, or first in line for a free slot — is not
        "limited": its data is a reply away."""
        waiting = sorted((i for i in self._wanted
                          if i not in self._held and i not in self._subscribing),
                         key=self._rank)
        room = max(0, self.limit - self.used) + len(self._releasing)
        out: set[str] = set()
        for item in waiting:
            if room > 0 and item not in self._refused:
                room -= 1
            else:
                out.add(item[1])
        out.update(i[1] for i in self._releasing if i in self._wanted)  # evicted, still wanted
        return out

    # -- decisions -------------------------------------------------------------------------
    def plan(self, now: float) -> list[Action]:
        actions: list[Action] = []
        waiting = sorted(
            (item for item in self._wanted
             if item not in self._held and item not in self._subscribing
             and self._refused.get(item, 0.0) <= now),
            key=lambda item: self._rank(item))
        # nobody wants it: release when someone waits for the slot, or after the hold
        short = len(waiting) - (self.limit - self.used) - len(self._releasing)
        for item in [i for i in self._held if i not in self._wanted and i not in self._releasing]:
            if short > 0 or now - self._unwanted_since.get(item, now) >= self.min_hold:
                actions.append(self._release(item))
                short -= 1
        # a lowered limit: give back the worst-ranked registrations, hold or not
        while self.used - len(self._releasing) > self.limit:
            victim = self._victim(None, now, ignore_hold=True)
            if victim is None:
                break
            actions.append(self._release(victim))
        promised = len(self._releasing)  # slots on their way back: the best waiters get them
        for item in waiting:
            if self.used < self.limit:
                self._subscribing.add(item)
                actions.append(Action(True, item))
            elif promised > 0:
                promised -= 1
            else:
                victim = self._victim(item, now, ignore_hold=False)
                if victim is None:
                    break  # everything held outranks the rest of the queue, or is too young
                self.evictions += 1
                actions.append(self._release(victim))
        return actions

    def on_reply(self, item: Item, reply: Reply, now: float) -> None:
        if reply is Reply.SUBSCRIBED:
            self._subscribing.discard(item)
            self._refused.pop(item, None)
            self._held.setdefault(item, now)
        elif reply is Reply.RELEASED:
            self._releasing.discard(item)
            self._held.pop(item, None)
            self._subscribing.discard(item)
        elif reply is Reply.FULL:
            self._subscribing.discard(item)
            self.limit = max(1, len(self._held) + len(self._subscribing))
        elif reply is Reply.REFUSED:
            self._subscribing.discard(item)
            self.refusals += 1
            self._refused[item] = now + REFUSED_RETRY_SECONDS
        elif reply is Reply.FAILED:
            self._releasing.discard(item)

    def on_disconnect(self) -> None:
        """The session is gone, and every registration with it."""
        self._held.clear()
        self._subscribing.clear()
        self._releasing.clear()

    # -- ranking ---------------------------------------------------------------------------
    def _rank(self, item: Item) -> tuple[int, float]:
        want = self._wanted.get(item)
        if want is None:
            return (EXTRA + 1, 0.0)  # unwanted: the worst
        return (want.priority, -want.wanted_at)

    def _victim(self, waiter: Item | None, now: float, ignore_hold: bool) -> Item | None:
        candidates = [i for i in self._held if i not in self._releasing
                      and (ignore_hold or now - self._held[i] >= self.min_hold)]
        if not candidates:
            return None
        worst = max(candidates, key=self._rank)
        if waiter is not None and self._rank(worst) <= self._rank(waiter):
            return None
        return worst

    def _release(self, item: Item) -> Action:
        self._releasing.add(item)
        return Action(False, item)


class DemandTracker:
    """Turns "who wants what, how much" into ``Want``s with a recency.

    ``update`` takes, per item, how many subscribers want it (clients) and
    the items the engine needs; an item is *wanted anew* (its ``wanted_at``
    becomes ``now``) when it appears or its subscriber count rises. The
    engine's needs are fresh every time.
    """

    def __init__(self) -> None:
        self._counts: dict[Item, int] = {}
        self._wanted_at: dict[Item, float] = {}

    def update(self, clients: Mapping[Item, int], engine: Iterable[Item],
               extras: Iterable[Item], now: float) -> dict[Item, Want]:
        wants: dict[Item, Want] = {}
        for item, count in clients.items():
            if count <= 0:
                continue
            if count > self._counts.get(item, 0) or item not in self._wanted_at:
                self._wanted_at[item] = now
            wants[item] = Want(CLIENT, self._wanted_at[item])
        self._counts = {i: c for i, c in clients.items() if c > 0}
        for item in engine:
            wants[item] = Want(ENGINE, now)
        for item in extras:
            if item not in wants:
                wants[item] = Want(EXTRA, self._wanted_at.get(item, now))
                self._wanted_at.setdefault(item, now)
        for item in [i for i in self._wanted_at if i not in wants]:
            del self._wanted_at[item]
        return wants
