"""The KIS session against the fake KIS server, in one event loop: registrations
follow the budget, PINGPONG is answered, a dropped session comes back with its
registrations, a refusal lowers the budget, secrets stay out of logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from hts_realtime.adapters.kis.budget import CLIENT, RegistrationBudget, Want
from hts_realtime.adapters.kis.codec import TR_BOOK, TR_TRADE, DataFrame
from hts_realtime.adapters.kis.session import (
    Credentials,
    KisSession,
    Redactor,
    SessionOptions,
)
from tests.fakes.kis import APPKEY, APPSECRET, FakeKis

SYMBOLS = {f"{i:06d}": 10_000 for i in range(60)}


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class Harness:
    def __init__(self, fake: FakeKis, limit: int = 41, **options: float) -> None:
        self.fake = fake
        self.frames: list[DataFrame] = []
        self.budget = RegistrationBudget(limit=limit, min_hold=0.5)
        opts = {"subscribe_per_second": 200.0, "backoff_base": 0.05, "backoff_cap": 0.2,
                "in_use_backoff": 0.3, "reply_timeout": 3.0, **options}
        self.session = KisSession(
            Credentials(APPKEY, APPSECRET),
            SessionOptions(rest_url=fake.url, ws_url=fake.ws_url, **opts),
            self.budget, self.frames.append, Redactor())
        self.task: asyncio.Task[None] | None = None

    def want(self, items: list[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()
        self.budget.set_demand({i: Want(CLIENT, loop.time() + n) for n, i in enumerate(items)},
                               self.session.clock())
        self.session.wake()

    def start(self) -> Harness:
        self.task = asyncio.get_running_loop().create_task(self.session.run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task


@pytest.fixture
async def fake() -> AsyncIterator[FakeKis]:
    f = await FakeKis(SYMBOLS, ping_interval=0.4, ping_timeout=0.4).start()
    yield f
    await f.stop()


def trades(symbols: list[str]) -> list[tuple[str, str]]:
    return [(TR_TRADE, s) for s in symbols]


async def test_registers_what_the_budget_allows_and_receives_frames(fake: FakeKis) -> None:
    h = Harness(fake).start()
    try:
        h.want([*trades(list(SYMBOLS)[:3]), (TR_BOOK, "000000")])
        await until(lambda: len(fake.registrations()) == 4 and h.budget.used == 4)
        await fake.trades("000001", [(10_050, 3, "1"), (10_100, 2, "1")])
        await until(lambda: bool(h.frames))
        assert len(h.frames[0].records) == 2
        await until(lambda: fake.sessions[0].pings_answered >= 2)  # PINGPONG echoed
        assert h.session.connected and fake.stats["dropped_no_pong"] == 0
        h.want(trades(["000001"]))  # the rest is released (after the minimum hold)
        await until(lambda: fake.registrations() == {(TR_TRADE, "000001")})
    finally:
        await h.stop()


async def test_a_dropped_session_reconnects_and_registers_again(fake: FakeKis) -> None:
    h = Harness(fake).start()
    try:
        h.want(trades(["000001", "000002"]))
        await until(lambda: len(fake.registrations()) == 2)
        first = fake.stats["connections"]
        assert fake.drop_all() == 1  # abrupt, no close frame
        await until(lambda: fake.stats["connections"] > first and len(fake.registrations()) == 2)
        assert h.session.reconnects >= 1 and h.session.connected
        await fake.trades("000002", [(10_050, 1, "1")])
        await until(lambda: any(f.records[0][0] == "000002" for f in h.frames))
    finally:
        await h.stop()


async def test_a_silent_session_is_dropped_by_the_broker_and_comes_back(fake: FakeKis) -> None:
    # the idle timeout alone would not notice (pings keep coming); the broker drops a
    # session that does not echo, so make the harness deaf to PINGPONG for a moment
    h = Harness(fake).start()
    try:
        h.want(trades(["000003"]))
        await until(lambda: len(fake.registrations()) == 1)
        fake.ping_timeout = 0.0  # now every ping is "unanswered" by the time it is checked
        await until(lambda: fake.stats["dropped_no_pong"] >= 1)
        fake.ping_timeout = 0.4
        await until(lambda: fake.registrations() == {(TR_TRADE, "000003")})
    finally:
        await h.stop()


async def test_max_subscribe_over_lowers_the_budget_and_nothing_exceeds_the_broker(
        fake: FakeKis) -> None:
    h = Harness(fake, limit=45).start()  # configured above what the broker allows
    try:
        h.want(trades(list(SYMBOLS)[:50]))
        await until(lambda: h.budget.limit == 41 and len(fake.registrations()) == 41)
        assert fake.stats["refused_max_subscribe"] >= 1
        assert fake.max_registrations == 41
        assert len(h.budget.limited()) == 9
    finally:
        await h.stop()


async def test_a_second_server_on_the_same_key_is_refused_and_waits(
        fake: FakeKis, caplog: pytest.LogCaptureFixture) -> None:
    first = Harness(fake).start()
    second = Harness(fake)
    try:
        first.want(trades(["000001"]))
        await until(lambda: len(fake.registrations()) == 1)
        with caplog.at_level(logging.INFO, logger="hts.kis"):
            second.start()
            second.want(trades(["000002"]))
            await until(lambda: fake.stats["refused_in_use"] >= 1
                        and second.session.refused is not None)
        assert "OPSP8996" in (second.session.refused or "")
        assert fake.registrations() == {(TR_TRADE, "000001")}  # the first is untouched
        await first.stop()  # the first goes away: the second gets the session
        await until(lambda: fake.registrations() == {(TR_TRADE, "000002")})
        text = caplog.text
        for secret in (APPKEY, APPSECRET, *fake.approvals):
            assert secret not in text
    finally:
        await second.stop()


async def test_the_approval_key_is_renewed_before_it_expires(fake: FakeKis) -> None:
    fake.approval_ttl = 1.5  # the fake refuses a subscribe with an expired key
    h = Harness(fake, approval_ttl=1.5, refresh_margin=0.7).start()
    try:
        symbols = list(SYMBOLS)
        for n in range(1, 8):  # new registrations over ~3.5 s, well past one key's life
            h.want(trades(symbols[:n]))
            await until(lambda n=n: len(fake.registrations()) == n)
            await asyncio.sleep(0.5)
        assert fake.stats["approval_requests"] >= 3
        assert h.session.replies.get("OPSP0011", 0) == 0
    finally:
        await h.stop()


async def test_garbage_and_wrong_field_counts_are_dropped_once_logged(
        fake: FakeKis, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(fake).start()
    try:
        h.want(trades(["000001"]))
        await until(lambda: len(fake.registrations()) == 1)
        with caplog.at_level(logging.WARNING, logger="hts.kis"):
            for _ in range(3):
                await fake.send_raw("0|H0STCNT0|002|" + "^".join(["1"] * 46))
                await fake.send_raw("\x00\x01garbage")
            await fake.trades("000001", [(10_050, 1, "1")])
            await until(lambda: len(h.frames) == 1)
        assert h.session.dropped == {"field_count": 3, "garbage": 3}
        lines = [r.getMessage() for r in caplog.records if "frame dropped" in r.getMessage()]
        assert len(lines) == 2  # one line per kind, the rest only counted
        assert "field_count" in lines[0] and "garbage" in lines[1]
        assert h.session.connected
    finally:
        await h.stop()


async def test_already_subscribed_not_found_and_invalid_key_replies_are_each_handled(
        fake: FakeKis) -> None:
    """OPSP0002 (already subscribed) counts as held; OPSP0003 (not found) on a release
    frees the slot; OPSP8992 (invalid tr_key) is refused without taking a slot, and the
    other registrations go on."""
    h = Harness(fake).start()
    try:
        h.want(trades(["000001"]))
        await until(lambda: h.budget.used == 1 and bool(fake.sessions))
        # the broker already has 000002 on this session (e.g. our reply was lost)
        fake.sessions[0].registrations.add((TR_TRADE, "000002"))
        h.want(trades(["000001", "000002", "999999"]))  # 999999: no such symbol at KIS
        await until(lambda: h.session.replies["OPSP0002"] == 1
                    and h.session.replies["OPSP8992"] >= 1)
        await until(lambda: h.budget.held() == {(TR_TRADE, "000001"), (TR_TRADE, "000002")})
        assert h.budget.used == 2  # the refused pair holds no slot
        # the broker forgot 000001; our release of it is answered "not found": freed
        fake.sessions[0].registrations.discard((TR_TRADE, "000001"))
        h.want(trades(["000002"]))
        await until(lambda: h.session.replies["OPSP0003"] == 1 and h.budget.used == 1)
        assert h.budget.held() == {(TR_TRADE, "000002")} and h.session.connected
    finally:
        await h.stop()
