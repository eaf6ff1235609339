"""A fake 한국투자증권 (KIS) Open API server, built from the public protocol.

A real aiohttp server on a loopback port, speaking what the KIS servers
speak (README, "Real quotes: the KIS feed", lists the sources):

* REST: ``POST /oauth2/Approval`` (WebSocket approval key), ``POST
  /oauth2/tokenP`` (access token), and the two quotations the adapter
  snapshots, ``inquire-price`` (FHKST01010100) and
  ``inquire-asking-price-exp-ccn`` (FHKST01010200), under a per-second call
  limit answered with ``EGW00201`` as KIS does;
* WebSocket ``/tryitout``: (un)subscribe with ``tr_type`` 1/2 and the OPSP
  control replies, a registration limit (``OPSP0008 MAX SUBSCRIBE OVER`` for
  the 42nd), one session per app key (``OPSP8996 ALREADY IN USE appkey`` for
  a second), PINGPONG (a session that does not echo it in time is dropped),
  and data frames ``0|TR|NNN|...`` with several records each, sent only to
  the sessions that registered that TR for that symbol.

Tests drive it in-process (``FakeKis`` methods) or, run as a program
(``python -m tests.fakes.kis``), over ``/_fake/*`` HTTP routes. It keeps
counters a test can assert on: registrations now and at most, sessions
refused, REST calls in the busiest second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import WSMsgType, web

from hts_realtime.adapters.kis import codec
from hts_realtime.adapters.kis.codec import (
    BOOK_FIELDS,
    MARKET_OP_FIELDS,
    TR_BOOK,
    TR_MARKET_OP,
    TR_TRADE,
    TRADE_FIELDS,
)

KST = timezone(timedelta(hours=9))
APPKEY = "PSFAKEappkey0000000000000000000000001"
APPSECRET = "fake-secret-" + "s" * 168
TICKS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))


def tick(price: int) -> int:
    for bound, size in TICKS:
        if price < bound:
            return size
    return 1_000


def band(prev_close: int) -> tuple[int, int]:
    """KRX ±30%, inside the band on the tick grid (as the exchange publishes them)."""
    up, down = prev_close * 13 // 10, -(-prev_close * 7 // 10)
    return up - up % tick(up), down + (-down) % tick(down)


@dataclass
class SymbolState:
    prev_close: int
    price: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    asks: list[tuple[int, int]] = field(default_factory=list)
    bids: list[tuple[int, int]] = field(default_factory=list)
    hour_class: str = "0"  # 0 장중; B 장전예상, C VI ...
    expected: tuple[int, int] = (0, 0)  # 예상체결가, 예상체결량
    vi: bool = False
    halted: bool = False

    def __post_init__(self) -> None:
        self.price = self.price or self.prev_close
        if not self.asks:
            self.quote_around(self.price)

    def quote_around(self, price: int, size: int = 100) -> None:
        asks, bids, a, b = [], [], price + tick(price), price
        for i in range(10):
            asks.append((a, size + 10 * i))
            bids.append((b, size + 5 * i))
            a += tick(a)
            b -= tick(b - 1)
        self.asks, self.bids = asks, bids

    def sign(self, price: int) -> str:
        up, down = band(self.prev_close)
        if price >= up:
            return "1"
        if price <= down:
            return "4"
        return "2" if price > self.prev_close else "5" if price < self.prev_close else "3"


class Session:
    def __init__(self, ws: web.WebSocketResponse, transport: Any) -> None:
        self.ws = ws
        self.transport = transport
        self.appkey: str | None = None
        self.registrations: set[tuple[str, str]] = set()
        self.ping_pending: str | None = None
        self.pings_answered = 0

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (what a network failure does)."""
        if self.transport is not None:
            self.transport.abort()


class FakeKis:
    def __init__(self, symbols: dict[str, int] | None = None, *, registration_limit: int = 41,
                 ping_interval: float = 110.0, ping_timeout: float = 10.0,
                 rest_per_second: int = 20, approval_ttl: float = 86_400.0,
                 appkey: str = APPKEY, appsecret: str = APPSECRET) -> None:
        self.symbols = {s: SymbolState(p) for s, p in (symbols or {"005930": 75_000}).items()}
        self.registration_limit = registration_limit
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.rest_per_second = rest_per_second
        self.approval_ttl = approval_ttl
        self.appkey, self.appsecret = appkey, appsecret
        self.sessions: list[Session] = []
        self.approvals: dict[str, float] = {}  # approval key -> expires (monotonic)
        self.access_token = "fake-access-" + secrets.token_hex(16)
        self.stats: dict[str, int] = defaultdict(int)
        self.max_registrations = 0  # the most one session ever held at once
        self.messages: list[dict[str, Any]] = []  # every (un)subscribe request, in order
        self._rest_window: dict[int, int] = defaultdict(int)
        self.rest_calls_max_per_second = 0
        self.refuse_sessions = False  # set: every new session is refused (appkey in use)
        self.unavailable = False  # set: the WebSocket endpoint answers 503 (broker down)
        self.app = web.Application()
        self.app.router.add_post("/oauth2/Approval", self._approval)
        self.app.router.add_post("/oauth2/tokenP", self._token)
        self.app.router.add_get("/uapi/domestic-stock/v1/quotations/inquire-price", self._price)
        self.app.router.add_get(
            "/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn", self._asking)
        self.app.router.add_get("/tryitout", self._ws)
        self.app.router.add_get("/tryitout/{tr}", self._ws)
        self.app.router.add_route("*", "/_fake/{action}", self._control)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> FakeKis:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # loopback only
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for s in list(self.sessions):
            s.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    def reset_market(self) -> None:
        """Every symbol back to its previous close, no volume (a new trading day)."""
        self.symbols = {s: SymbolState(st.prev_close) for s, st in self.symbols.items()}

    # -- what a test looks at ----------------------------------------------------------------
    def registrations(self) -> set[tuple[str, str]]:
        return {r for s in self.sessions for r in s.registrations}

    def live_sessions(self) -> int:
        return sum(1 for s in self.sessions if s.appkey is not None)

    # -- REST --------------------------------------------------------------------------------
    def _rest_allowed(self) -> bool:
        second = int(time.monotonic())
        self._rest_window[second] += 1
        for old in [k for k in self._rest_window if k < second - 5]:
            del self._rest_window[old]
        self.rest_calls_max_per_second = max(self.rest_calls_max_per_second,
                                             self._rest_window[second])
        return self._rest_window[second] <= self.rest_per_second

    async def _approval(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.stats["approval_requests"] += 1
        if body.get("appkey") != self.appkey or body.get("secretkey") != self.appsecret:
            return web.json_response({"error_code": "EGW00105",
                                      "error_description": "유효하지 않은 AppSecret입니다."},
                                     status=403)
        key = secrets.token_hex(18)  # KIS keys are 36 characters
        self.approvals[key] = time.monotonic() + self.approval_ttl
        return web.json_response({"approval_key": key})

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.stats["token_requests"] += 1
        if body.get("appkey") != self.appkey or body.get("appsecret") != self.appsecret:
            return web.json_response({"error_code": "EGW00103",
                                      "error_description": "유효하지 않은 AppKey입니다."},
                                     status=403)
        expires = datetime.now(KST) + timedelta(days=1)
        return web.json_response({
            "access_token": self.access_token, "token_type": "Bearer", "expires_in": 86_400,
            "access_token_token_expired": expires.strftime("%Y-%m-%d %H:%M:%S")})

    def _rest_check(self, request: web.Request, tr_id: str) -> web.Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}" or \
                request.headers.get("appkey") != self.appkey:
            return web.json_response({"rt_cd": "1", "msg_cd": "EGW00123",
                                      "msg1": "기간이 만료된 token 입니다."}, status=500)
        if request.headers.get("tr_id") != tr_id:
            return web.json_response({"rt_cd": "1", "msg_cd": "OPSQ0002",
                                      "msg1": "없는 서비스 코드 입니다."}, status=500)
        if not self._rest_allowed():
            self.stats["rest_rate_limited"] += 1
            return web.json_response({"rt_cd": "1", "msg_cd": "EGW00201",
                                      "msg1": "초당 거래건수를 초과하였습니다."}, status=500)
        return None

    def _symbol(self, request: web.Request) -> SymbolState | None:
        return self.symbols.get(request.query.get("FID_INPUT_ISCD", ""))

    async def _price(self, request: web.Request) -> web.Response:
        refused = self._rest_check(request, "FHKST01010100")
        if refused is not None:
            return refused
        self.stats["rest_price"] += 1
        st = self._symbol(request)
        if st is None:
            return web.json_response({"rt_cd": "7", "msg_cd": "MCA00124",
                                      "msg1": "조회할 자료가 없습니다"})
        up, down = band(st.prev_close)
        return web.json_response({"rt_cd": "0", "msg_cd": "MCA00000",
                                  "msg1": "정상처리 되었습니다.", "output": {
            "stck_prpr": str(st.price), "prdy_vrss": str(st.price - st.prev_close),
            "prdy_vrss_sign": st.sign(st.price),
            "prdy_ctrt": f"{(st.price - st.prev_close) * 100 / st.prev_close:.2f}",
            "acml_vol": str(st.volume), "stck_oprc": str(st.open), "stck_hgpr": str(st.high),
            "stck_lwpr": str(st.low), "stck_mxpr": str(up), "stck_llam": str(down),
            "stck_sdpr": str(st.prev_close), "temp_stop_yn": "Y" if st.halted else "N",
            "vi_cls_code": "Y" if st.vi else "N", "iscd_stat_cls_code": "55"}})

    async def _asking(self, request: web.Request) -> web.Response:
        refused = self._rest_check(request, "FHKST01010200")
        if refused is not None:
            return refused
        self.stats["rest_asking"] += 1
        st = self._symbol(request)
        if st is None:
            return web.json_response({"rt_cd": "7", "msg_cd": "MCA00124",
                                      "msg1": "조회할 자료가 없습니다"})
        out1: dict[str, str] = {"aspr_acpt_hour": datetime.now(KST).strftime("%H%M%S")}
        for i in range(10):
            ap, aq = st.asks[i] if i < len(st.asks) else (0, 0)
            bp, bq = st.bids[i] if i < len(st.bids) else (0, 0)
            out1 |= {f"askp{i + 1}": str(ap), f"bidp{i + 1}": str(bp),
                     f"askp_rsqn{i + 1}": str(aq), f"bidp_rsqn{i + 1}": str(bq)}
        out1 |= {"total_askp_rsqn": str(sum(q for _, q in st.asks)),
                 "total_bidp_rsqn": str(sum(q for _, q in st.bids)),
                 "new_mkop_cls_code": "20"}
        out2 = {"antc_cnpr": str(st.expected[0]), "antc_cnqn": str(st.expected[1]),
                "antc_vol": str(st.expected[1]), "stck_prpr": str(st.price),
                "stck_sdpr": str(st.prev_close)}
        return web.json_response({"rt_cd": "0", "msg_cd": "MCA00000",
                                  "msg1": "정상처리 되었습니다.", "output1": out1,
                                  "output2": out2})

    # -- WebSocket ---------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.unavailable:
            self.stats["refused_unavailable"] += 1
            return web.Response(status=503, text="service unavailable")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        session = Session(ws, request.transport)
        self.sessions.append(session)
        self.stats["connections"] += 1
        pinger = asyncio.get_running_loop().create_task(self._pinger(session))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(session, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG and session.ping_pending is not None \
                        and msg.data.decode(errors="replace") == session.ping_pending:
                    session.ping_pending = None  # the official sample answers with a pong
                    session.pings_answered += 1
        finally:
            pinger.cancel()
            if session in self.sessions:
                self.sessions.remove(session)
        return ws

    async def _pinger(self, session: Session) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            ping = json.dumps({"header": {"tr_id": "PINGPONG", "datetime": datetime.now(
                KST).strftime("%Y%m%d%H%M%S")}}, separators=(",", ":"))
            session.ping_pending = ping
            with contextlib.suppress(ConnectionError):
                await session.ws.send_str(ping)
            await asyncio.sleep(self.ping_timeout)
            if session.ping_pending is not None:  # not answered: KIS drops the session
                self.stats["dropped_no_pong"] += 1
                session.abort()
                return

    async def _on_text(self, session: Session, raw: str) -> None:
        if session.ping_pending is not None and raw == session.ping_pending:
            session.ping_pending = None
            session.pings_answered += 1
            return
        try:
            msg = json.loads(raw)
            header, body = msg["header"], msg["body"]["input"]
            tr_id, tr_key = str(body["tr_id"]), str(body.get("tr_key", ""))
            key, tr_type = header["approval_key"], header["tr_type"]
        except (ValueError, KeyError, TypeError):
            await session.ws.send_str(codec.control_reply(
                "", "", "OPSP9999", "JSON PARSING ERROR : invalid json format", False))
            return
        self.messages.append({"tr_type": tr_type, "tr_id": tr_id, "tr_key": tr_key})
        if session.appkey is None:
            if self.approvals.get(key, 0.0) < time.monotonic():
                await self._refuse(session, "OPSP0011", "invalid approval : NOT FOUND")
                return
            if self.refuse_sessions or any(s.appkey == self.appkey for s in self.sessions):
                self.stats["refused_in_use"] += 1
                await self._refuse(session, codec.APPKEY_IN_USE, "ALREADY IN USE appkey")
                return
            session.appkey = self.appkey
        elif self.approvals.get(key, 0.0) < time.monotonic():
            await session.ws.send_str(codec.control_reply(
                tr_id, tr_key, "OPSP0011", "invalid approval : NOT FOUND", False))
            return
        reg = (tr_id, tr_key)
        if tr_type == "1":
            reply = self._subscribe(session, reg)
        elif tr_type == "2":
            if reg in session.registrations:
                session.registrations.discard(reg)
                reply = (codec.UNSUBSCRIBED, "UNSUBSCRIBE SUCCESS", True)
            else:
                reply = (codec.NOT_SUBSCRIBED, "UNSUBSCRIBE ERROR(not found!)", False)
        else:
            reply = ("OPSP8997", "JSON PARSING ERROR : invalid tr_type", False)
        await session.ws.send_str(codec.control_reply(tr_id, tr_key, *reply))

    def _subscribe(self, session: Session, reg: tuple[str, str]) -> tuple[str, str, bool]:
        tr_id, tr_key = reg
        if tr_id not in codec.FIELDS:
            return ("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id", False)
        if tr_key not in self.symbols:
            return (codec.INVALID_TR_KEY, "SUBSCRIBE ERROR : invalid tr_key", False)
        if reg in session.registrations:
            return (codec.ALREADY_SUBSCRIBED, "ALREADY IN SUBSCRIBE", False)
        if len(session.registrations) >= self.registration_limit:
            self.stats["refused_max_subscribe"] += 1
            return (codec.MAX_SUBSCRIBE, "MAX SUBSCRIBE OVER", False)
        session.registrations.add(reg)
        self.max_registrations = max(self.max_registrations, len(session.registrations))
        return (codec.SUBSCRIBED, "SUBSCRIBE SUCCESS", True)

    async def _refuse(self, session: Session, code: str, message: str) -> None:
        reply = json.dumps({"header": {"tr_id": "(null)", "tr_key": "", "encrypt": "N"},
                            "body": {"rt_cd": "9", "msg_cd": code, "msg1": message}},
                           separators=(",", ":"))
        with contextlib.suppress(ConnectionError):
            await session.ws.send_str(reply)
            await session.ws.close()

    # -- the market: records, frames, a tape -------------------------------------------------
    def trade_record(self, symbol: str, price: int, quantity: int, side: str = "1",
                     at: datetime | None = None) -> list[str]:
        """Print a trade on ``symbol`` (state moves) and return its H0STCNT0 record."""
        st = self.symbols[symbol]
        at = at or datetime.now(KST)
        st.price = price
        st.open = st.open or price
        st.high, st.low = max(st.high, price), min(st.low or price, price)
        st.volume += quantity
        values = dict.fromkeys(TRADE_FIELDS, "0")
        sign = st.sign(price)
        values |= {
            "MKSC_SHRN_ISCD": symbol, "STCK_CNTG_HOUR": at.strftime("%H%M%S"),
            "STCK_PRPR": str(price), "PRDY_VRSS_SIGN": sign,
            "PRDY_VRSS": str(price - st.prev_close),
            "PRDY_CTRT": f"{(price - st.prev_close) * 100 / st.prev_close:.2f}",
            "WGHN_AVRG_STCK_PRC": str(price), "STCK_OPRC": str(st.open),
            "STCK_HGPR": str(st.high), "STCK_LWPR": str(st.low),
            "ASKP1": str(st.asks[0][0] if st.asks else 0),
            "BIDP1": str(st.bids[0][0] if st.bids else 0), "CNTG_VOL": str(quantity),
            "ACML_VOL": str(st.volume), "ACML_TR_PBMN": str(st.volume * price),
            "CCLD_DVSN": side, "BSOP_DATE": at.strftime("%Y%m%d"), "NEW_MKOP_CLS_CODE": "20",
            "TRHT_YN": "Y" if st.halted else "N", "HOUR_CLS_CODE": st.hour_class,
            "MRKT_TRTM_CLS_CODE": "", "VI_STND_PRC": str(st.prev_close),
            "OPRC_HOUR": "090000", "HGPR_HOUR": "090000", "LWPR_HOUR": "090000",
            "OPRC_VRSS_PRPR_SIGN": "3", "HGPR_VRSS_PRPR_SIGN": "3", "LWPR_VRSS_PRPR_SIGN": "3",
        }
        return [values[name] for name in TRADE_FIELDS]

    def book_record(self, symbol: str, at: datetime | None = None) -> list[str]:
        st = self.symbols[symbol]
        at = at or datetime.now(KST)
        values = dict.fromkeys(BOOK_FIELDS, "0")
        values |= {"MKSC_SHRN_ISCD": symbol, "BSOP_HOUR": at.strftime("%H%M%S"),
                   "HOUR_CLS_CODE": st.hour_class, "ACML_VOL": str(st.volume),
                   "TOTAL_ASKP_RSQN": str(sum(q for _, q in st.asks)),
                   "TOTAL_BIDP_RSQN": str(sum(q for _, q in st.bids)),
                   "ANTC_CNPR": str(st.expected[0]), "ANTC_CNQN": str(st.expected[1]),
                   "ANTC_VOL": str(st.expected[1]),
                   "ANTC_CNTG_VRSS_SIGN": st.sign(st.expected[0]) if st.expected[0] else "3",
                   "STCK_DEAL_CLS_CODE": ""}
        for i, (p, q) in enumerate(st.asks[:10]):
            values[f"ASKP{i + 1}"], values[f"ASKP_RSQN{i + 1}"] = str(p), str(q)
        for i, (p, q) in enumerate(st.bids[:10]):
            values[f"BIDP{i + 1}"], values[f"BIDP_RSQN{i + 1}"] = str(p), str(q)
        return [values[name] for name in BOOK_FIELDS]

    def market_op_record(self, symbol: str, session_code: str = "112") -> list[str]:
        st = self.symbols[symbol]
        values = dict.fromkeys(MARKET_OP_FIELDS, "")
        values |= {"MKSC_SHRN_ISCD": symbol, "TRHT_YN": "Y" if st.halted else "N",
                   "MKOP_CLS_CODE": session_code, "ISCD_STAT_CLS_CODE": "55",
                   "VI_CLS_CODE": "Y" if st.vi else "N", "OVTM_VI_CLS_CODE": "N",
                   "EXCH_CLS_CODE": "K"}
        return [values[name] for name in MARKET_OP_FIELDS]

    async def send_records(self, tr_id: str, records: list[list[str]]) -> int:
        """One frame per session with the records it registered for; returns frames sent."""
        sent = 0
        for session in list(self.sessions):
            mine = [r for r in records if (tr_id, r[0]) in session.registrations]
            if mine:
                with contextlib.suppress(ConnectionError):
                    await session.ws.send_str(codec.data_frame(tr_id, mine))
                    sent += 1
        self.stats["frames"] += sent
        return sent

    async def send_raw(self, raw: str) -> None:
        """Anything at all, to every session (garbage, a wrong field count...)."""
        for session in list(self.sessions):
            with contextlib.suppress(ConnectionError):
                await session.ws.send_str(raw)

    async def trades(self, symbol: str, prints: list[tuple[int, int, str]],
                     at: datetime | None = None) -> int:
        """Several prints of one symbol in ONE frame (as KIS batches a busy second), at
        ``at`` (KST; default now)."""
        records = [self.trade_record(symbol, p, q, side, at) for p, q, side in prints]
        return await self.send_records(TR_TRADE, records)

    async def book(self, symbol: str, asks: list[tuple[int, int]] | None = None,
                   bids: list[tuple[int, int]] | None = None) -> int:
        st = self.symbols[symbol]
        if asks is not None:
            st.asks = asks
        if bids is not None:
            st.bids = bids
        return await self.send_records(TR_BOOK, [self.book_record(symbol)])

    async def market_op(self, symbol: str, *, vi: bool | None = None,
                        halted: bool | None = None, session_code: str = "112") -> int:
        st = self.symbols[symbol]
        st.vi = st.vi if vi is None else vi
        st.halted = st.halted if halted is None else halted
        st.hour_class = "C" if st.vi else "0"
        return await self.send_records(TR_MARKET_OP, [self.market_op_record(symbol,
                                                                             session_code)])

    def drop_all(self) -> int:
        """Abrupt disconnect of every session (no close frame)."""
        n = len(self.sessions)
        for s in list(self.sessions):
            s.abort()
        return n

    async def tape(self, seconds: float, rate: float = 10.0, seed: int = 1) -> int:
        """A scripted random tape: 장개시 (H0STMKO0 112) to the symbols registered for it,
        then ``rate`` rounds a second; each round every registered symbol prints 1-4
        trades in one frame with probability 0.6 and re-quotes its book. Deterministic
        for a seed (the prices; when frames leave depends on the clock)."""
        rng = random.Random(seed)
        rounds = 0
        end = time.monotonic() + seconds
        opened: set[str] = set()
        while time.monotonic() < end:
            for symbol in sorted({key for tr, key in self.registrations()
                                  if tr == TR_MARKET_OP} - opened):
                opened.add(symbol)  # 장개시 to each symbol registered for 장운영정보
                await self.market_op(symbol, session_code="112")
            wanted = sorted({key for _, key in self.registrations()})
            for symbol in wanted:
                if rng.random() >= 0.6:
                    continue
                st = self.symbols[symbol]
                up, down = band(st.prev_close)
                prints = []
                for _ in range(1 + int(rng.random() * 4)):
                    step = rng.choice((-1, 0, 0, 1))
                    price = min(up, max(down, st.price + step * tick(st.price)))
                    side = "1" if step >= 0 else "5"
                    prints.append((price, 1 + int(rng.random() * 50), side))
                    st.price = price
                await self.trades(symbol, prints)
                st.quote_around(st.price, 50 + int(rng.random() * 200))
                await self.book(symbol)
            rounds += 1
            await asyncio.sleep(1.0 / rate)
        return rounds

    # -- the control API (for a fake run as a program) ---------------------------------------
    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body = await request.json() if request.can_read_body else {}
        if action == "state":
            return web.json_response({
                "registrations": sorted(map(list, self.registrations())),
                "max_registrations": self.max_registrations, "sessions": len(self.sessions),
                "stats": dict(self.stats),
                "rest_calls_max_per_second": self.rest_calls_max_per_second})
        if action == "trades":
            n = await self.trades(body["symbol"], [tuple(p) for p in body["prints"]])
            return web.json_response({"frames": n})
        if action == "tape":
            task = asyncio.get_running_loop().create_task(
                self._tape_task(float(body.get("seconds", 10)), float(body.get("rate", 10)),
                                int(body.get("seed", 1))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return web.json_response({"started": True})
        if action == "drop":
            return web.json_response({"dropped": self.drop_all()})
        raise web.HTTPNotFound()

    async def _tape_task(self, seconds: float, rate: float, seed: int) -> None:
        await self.tape(seconds, rate, seed)


async def _main() -> None:
    p = argparse.ArgumentParser(description="a fake KIS Open API server (loopback only)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--symbols", default="", help="SYMBOL=PREV_CLOSE,... (default: the master)")
    p.add_argument("--tape-seconds", type=float, default=0.0)
    p.add_argument("--tape-rate", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.symbols:
        symbols = {k: int(v) for k, v in (pair.split("=") for pair in args.symbols.split(","))}
    else:
        from hts_realtime.domain.symbols import SymbolMaster
        symbols = {s.symbol: s.prev_close for s in SymbolMaster()}
    fake = await FakeKis(symbols).start(args.port)
    print(f"fake KIS on {fake.url} (WebSocket {fake.ws_url}); app key {fake.appkey}",
          flush=True)
    try:
        if args.tape_seconds > 0:
            await asyncio.sleep(2.0)  # let a client register first
            await fake.tape(args.tape_seconds, args.tape_rate, args.seed)
        else:
            await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
