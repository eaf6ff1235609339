"""The registration budget, alone: what is registered, released and limited, by the clock."""

from __future__ import annotations

from hts_realtime.adapters.kis.budget import (
    CLIENT,
    ENGINE,
    EXTRA,
    Action,
    DemandTracker,
    RegistrationBudget,
    Reply,
    Want,
)

T = "H0STCNT0"


def items(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(T, f"{i:06d}") for i in range(start, start + n)]


def confirm(budget: RegistrationBudget, actions: list[Action], now: float) -> None:
    for a in actions:
        budget.on_reply(a.item, Reply.SUBSCRIBED if a.subscribe else Reply.RELEASED, now)


def test_never_more_than_the_limit_even_with_replies_in_flight() -> None:
    b = RegistrationBudget(limit=41, min_hold=30)
    b.set_demand({i: Want(CLIENT, float(n)) for n, i in enumerate(items(60))}, 0)
    first = b.plan(0)
    assert len(first) == 41 and all(a.subscribe for a in first)
    assert b.plan(0.1) == []  # nothing more while the 41 are unanswered
    assert b.used == 41
    assert len(b.limited()) == 19
    # the most recently wanted got the slots
    assert {a.item for a in first} == set(items(41, 19))
    assert b.limited() == {s for _, s in items(19)}


def test_least_recently_wanted_gives_up_its_slot_after_the_minimum_hold() -> None:
    b = RegistrationBudget(limit=2, min_hold=30)
    a, c, d = items(3)
    b.set_demand({a: Want(CLIENT, 1), c: Want(CLIENT, 2)}, 0)
    confirm(b, b.plan(0), 0)
    b.set_demand({a: Want(CLIENT, 1), c: Want(CLIENT, 2), d: Want(CLIENT, 10)}, 10)
    assert b.plan(10) == []  # both held for less than the minimum hold
    assert b.limited() == {d[1]}
    plan = b.plan(31)
    assert plan == [Action(False, a)]  # the least recently wanted one goes
    assert b.plan(31.5) == []  # one eviction per waiter, even before the reply
    confirm(b, plan, 32)
    plan = b.plan(32)
    assert plan == [Action(True, d)]
    confirm(b, plan, 32.2)
    assert b.held() == {c, d} and b.limited() == {a[1]} and b.evictions == 1


def test_a_held_registration_still_wanted_more_recently_is_not_evicted() -> None:
    b = RegistrationBudget(limit=1, min_hold=5)
    a, c = items(2)
    b.set_demand({a: Want(CLIENT, 50)}, 0)
    confirm(b, b.plan(0), 0)
    b.set_demand({a: Want(CLIENT, 50), c: Want(CLIENT, 40)}, 100)
    assert b.plan(100) == []  # c was wanted less recently than a


def test_engine_needs_outrank_clients_and_extras_come_last() -> None:
    b = RegistrationBudget(limit=2, min_hold=0)
    eng, cli, extra = (T, "E"), (T, "C"), ("H0STMKO0", "C")
    b.set_demand({extra: Want(EXTRA, 99), cli: Want(CLIENT, 1), eng: Want(ENGINE, 0)}, 0)
    plan = b.plan(0)
    assert {a.item for a in plan} == {eng, cli}


def test_unwanted_registration_lingers_then_goes() -> None:
    b = RegistrationBudget(limit=5, min_hold=30)
    a, c = items(2)
    b.set_demand({a: Want(CLIENT, 0)}, 0)
    confirm(b, b.plan(0), 0)
    b.set_demand({}, 10)
    assert b.plan(20) == []  # nobody waits for the slot: keep it a while
    assert b.plan(40) == [Action(False, a)]
    # ... but with a waiter and no free slot it goes at once
    b2 = RegistrationBudget(limit=1, min_hold=30)
    b2.set_demand({a: Want(CLIENT, 0)}, 0)
    confirm(b2, b2.plan(0), 0)
    b2.set_demand({c: Want(CLIENT, 5)}, 5)
    assert b2.plan(5) == [Action(False, a)]


def test_max_subscribe_reply_lowers_the_budget_for_good() -> None:
    b = RegistrationBudget(limit=45, min_hold=0)
    b.set_demand({i: Want(CLIENT, float(n)) for n, i in enumerate(items(50))}, 0)
    plan = b.plan(0)
    assert len(plan) == 45
    for n, act in enumerate(plan):  # the broker takes 41 and refuses the rest
        b.on_reply(act.item, Reply.SUBSCRIBED if n < 41 else Reply.FULL, 0)
    assert b.limit == 41 and b.used == 41
    assert b.plan(1) == []
    b.on_disconnect()
    assert b.used == 0 and b.limit == 41
    assert len(b.plan(2)) == 41  # a new session is filled to the learned limit only


def test_refused_pairs_wait_before_a_retry() -> None:
    b = RegistrationBudget(limit=5, min_hold=0)
    a = (T, "999999")
    b.set_demand({a: Want(CLIENT, 0)}, 0)
    b.on_reply(b.plan(0)[0].item, Reply.REFUSED, 0)
    assert b.plan(1) == [] and b.limited() == {"999999"}
    assert b.plan(1000) == [Action(True, a)]


def test_disconnect_forgets_registrations_and_a_plan_resubscribes() -> None:
    b = RegistrationBudget(limit=3, min_hold=30)
    b.set_demand({i: Want(CLIENT, 1) for i in items(3)}, 0)
    confirm(b, b.plan(0), 0)
    b.on_disconnect()
    assert b.held() == set() and b.used == 0
    assert b.limited() == set()  # room for all: not "limited" (the feed says "stale")
    assert sorted(a.item for a in b.plan(1)) == items(3)


def test_demand_tracker_recency() -> None:
    d = DemandTracker()
    a, c = items(2)
    w = d.update({a: 1, c: 1}, engine=[], extras=[], now=0)
    assert w[a] == Want(CLIENT, 0)
    w = d.update({a: 1, c: 2}, engine=[], extras=[], now=5)  # c got a new subscriber
    assert w[a].wanted_at == 0 and w[c].wanted_at == 5
    w = d.update({a: 1, c: 1}, engine=[a], extras=[("H0STMKO0", "000001")], now=9)
    assert w[a] == Want(ENGINE, 9) and w[c].wanted_at == 5
    assert w[("H0STMKO0", "000001")].priority == EXTRA
    w = d.update({}, engine=[], extras=[], now=10)
    assert w == {}
    assert d.update({c: 1}, engine=[], extras=[], now=11)[c].wanted_at == 11
