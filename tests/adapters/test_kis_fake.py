"""The fake KIS server keeps the rules the real one enforces (so tests that pass
against it mean something): the registration limit, one session per app key,
PINGPONG, approval keys, and frames only for what a session registered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from hts_realtime.adapters.kis import codec
from hts_realtime.adapters.kis.codec import TR_TRADE, Control, DataFrame, PingPong
from tests.fakes.kis import APPKEY, APPSECRET, FakeKis

SYMBOLS = {f"{i:06d}": 10_000 for i in range(50)}


@pytest.fixture
async def fake() -> AsyncIterator[FakeKis]:
    f = await FakeKis(SYMBOLS, ping_interval=0.3, ping_timeout=0.3).start()
    yield f
    await f.stop()


async def approval(http: aiohttp.ClientSession, fake: FakeKis) -> str:
    async with http.post(f"{fake.url}/oauth2/Approval", json={
            "grant_type": "client_credentials", "appkey": APPKEY, "secretkey": APPSECRET}) as r:
        assert r.status == 200
        return str((await r.json())["approval_key"])


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def next_frame(ws: aiohttp.ClientWebSocketResponse, skip_ping: bool = True) -> codec.Frame:
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = codec.decode(msg.data)
        if not (skip_ping and isinstance(frame, PingPong)):
            return frame


async def test_the_42nd_registration_is_refused(fake: FakeKis) -> None:
    async with aiohttp.ClientSession() as http:
        key = await approval(http, fake)
        async with http.ws_connect(f"{fake.ws_url}/tryitout") as ws:
            replies = []
            for symbol in list(SYMBOLS)[:42]:
                await ws.send_str(codec.request(key, TR_TRADE, symbol, True))
                replies.append(await next_frame(ws))
            codes = [r.code for r in replies if isinstance(r, Control)]
            assert codes[:41] == [codec.SUBSCRIBED] * 41 and codes[41] == codec.MAX_SUBSCRIBE
            await ws.send_str(codec.request(key, TR_TRADE, "000000", True))
            again = await next_frame(ws)
            assert isinstance(again, Control) and again.code == codec.ALREADY_SUBSCRIBED
            await ws.send_str(codec.request(key, TR_TRADE, "000049", False))
            gone = await next_frame(ws)
            assert isinstance(gone, Control) and gone.code == codec.NOT_SUBSCRIBED
    assert fake.max_registrations == 41


async def test_a_second_session_of_the_same_key_is_refused(fake: FakeKis) -> None:
    async with aiohttp.ClientSession() as http:
        key = await approval(http, fake)
        async with http.ws_connect(f"{fake.ws_url}/tryitout") as first:
            await first.send_str(codec.request(key, TR_TRADE, "000001", True))
            assert isinstance(await next_frame(first), Control)
            async with http.ws_connect(f"{fake.ws_url}/tryitout") as second:
                await second.send_str(codec.request(await approval(http, fake), TR_TRADE,
                                                    "000002", True))
                refused = await next_frame(second)
                assert isinstance(refused, Control) and refused.code == codec.APPKEY_IN_USE
                closed = await second.receive(timeout=5)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_frames_go_only_to_registered_pairs_several_records_each(fake: FakeKis) -> None:
    async with aiohttp.ClientSession() as http:
        key = await approval(http, fake)
        async with http.ws_connect(f"{fake.ws_url}/tryitout") as ws:
            await ws.send_str(codec.request(key, TR_TRADE, "000001", True))
            await next_frame(ws)
            assert await fake.trades("000002", [(10_050, 1, "1")]) == 0  # nobody registered it
            assert await fake.trades("000001", [(10_050, 1, "1"), (10_000, 2, "5")]) == 1
            frame = await next_frame(ws)
            assert isinstance(frame, DataFrame) and len(frame.records) == 2


async def test_pingpong_unanswered_drops_the_session_answered_keeps_it(fake: FakeKis) -> None:
    async with aiohttp.ClientSession() as http:
        key = await approval(http, fake)
        async with http.ws_connect(f"{fake.ws_url}/tryitout") as ws:
            await ws.send_str(codec.request(key, TR_TRADE, "000001", True))
            for _ in range(3):  # echo three pings: still connected
                ping = await next_frame(ws, skip_ping=False)
                while not isinstance(ping, PingPong):
                    ping = await next_frame(ws, skip_ping=False)
                assert json.loads(ping.raw)["header"]["tr_id"] == "PINGPONG"
                await ws.send_str(ping.raw)
            await until(lambda: fake.sessions[0].pings_answered == 3)
            # now stay silent: the fake drops the session without a close frame
            msg = await ws.receive(timeout=5)
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert fake.stats["dropped_no_pong"] == 1


async def test_wrong_secret_and_unknown_approval_key(fake: FakeKis) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/oauth2/Approval", json={
                "grant_type": "client_credentials", "appkey": APPKEY, "secretkey": "no"}) as r:
            assert r.status == 403
        async with http.ws_connect(f"{fake.ws_url}/tryitout") as ws:
            await ws.send_str(codec.request("not-a-key", TR_TRADE, "000001", True))
            refused = await next_frame(ws)
            assert isinstance(refused, Control) and refused.code == codec.INVALID_APPROVAL
            await asyncio.sleep(0)
