"""The one broker WebSocket session: connect, register, answer, reconnect.

KIS allows one session per app key (a second is refused with ``OPSP8996``),
so the whole server — every gateway of a cluster — shares this one. It:

* gets an approval key from ``POST /oauth2/Approval`` (app key and secret in
  the body; the key, valid 24 h, goes in every (un)subscribe header) and
  fetches a new one before the old one's lifetime ends;
* keeps the registrations the budget decides (``budget.plan``), paced to
  ``subscribe_per_second`` (KIS's samples wait 0.1 s between requests), and
  tells the budget every reply;
* echoes PINGPONG as it came (the server drops a session that does not);
* reconnects with exponential backoff and full jitter after any loss, and
  registers again from the budget (the broker forgets a closed session's
  registrations);
* treats a session that sends nothing at all (not even PINGPONG, ~110 s
  apart) for ``idle_timeout`` seconds, or leaves a request unanswered for
  ``reply_timeout``, as dead.

Secrets (app key and secret, approval key) never reach a log or an error
message: everything logged goes through ``Redactor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from hts_realtime.adapters.kis import codec
from hts_realtime.adapters.kis.budget import Item, RegistrationBudget, Reply
from hts_realtime.adapters.kis.codec import Control, DataFrame, FrameError, PingPong

log = logging.getLogger("hts.kis")

APPROVAL_PATH = "/oauth2/Approval"
WS_PATH = "/tryitout"


class Redactor:
    """Replaces every known secret in a text with ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, "***")
        return out


@dataclass(frozen=True)
class Credentials:
    appkey: str
    appsecret: str
    custtype: str = "P"  # 개인; "B" 법인

    def __repr__(self) -> str:
        return "Credentials(appkey='***', appsecret='***')"


@dataclass(frozen=True)
class SessionOptions:
    rest_url: str  # https://openapi.koreainvestment.com:9443 (real), ...vts...:29443 (paper)
    ws_url: str  # ws://ops.koreainvestment.com:21000 (real), :31000 (paper)
    approval_ttl: float = 86_400.0  # the approval key's lifetime (KIS: 24 hours)
    refresh_margin: float = 3_600.0  # fetch a new key this long before the old one ends
    subscribe_per_second: float = 10.0
    idle_timeout: float = 240.0  # nothing received at all for this long: the session is dead
    reply_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    in_use_backoff: float = 30.0  # another session holds the app key: wait at least this


class SessionRefused(Exception):
    """The broker refused the whole session (app key in use, bad approval key)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code


class KisSession:
    def __init__(self, credentials: Credentials, options: SessionOptions,
                 budget: RegistrationBudget, on_frame: Callable[[DataFrame], None],
                 redact: Redactor, clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.options = options
        self.budget = budget
        self.on_frame = on_frame
        self.redact = redact
        redact.add(credentials.appkey)
        redact.add(credentials.appsecret)
        self.clock = clock
        self.connected = False
        self.reconnects = 0
        self.sessions = 0
        self.frames = 0
        self.records = 0
        self.dropped: Counter[str] = Counter()  # frames dropped, by reason
        self.replies: Counter[str] = Counter()  # control replies, by msg_cd
        self.last_frame_at: float | None = None  # monotonic: the last data frame
        self.last_message_at: float | None = None
        self.refused: str | None = None  # why the broker refuses us now, if it does
        self.pings = 0
        self._approval: tuple[str, float] | None = None  # (key, issued at)
        self._pending: dict[Item, tuple[bool, float]] = {}  # request -> (subscribe, sent at)
        self._wake = asyncio.Event()
        self._logged: set[str] = set()
        self._attempt = 0

    # -- what the feed sees ------------------------------------------------------------------
    def wake(self) -> None:
        """Demand changed: plan registrations now rather than at the next tick."""
        self._wake.set()

    def status(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "connected": self.connected,
            "registrations": self.budget.used,
            "budget": self.budget.limit,
            "last_frame_age_seconds": (None if self.last_frame_at is None
                                       else round(now - self.last_frame_at, 3)),
            "reconnects": self.reconnects,
            "frames": self.frames,
            "frames_dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(self.dropped),
            "refused": self.refused,
        }

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Keep a session up until cancelled."""
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                delay = 0.0
                try:
                    await self._session(http)
                except asyncio.CancelledError:
                    raise
                except SessionRefused as exc:
                    self.refused = self.redact(exc)
                    self._log_once(exc.code, logging.ERROR, "KIS refused the session: %s",
                                   self.refused)
                    if exc.code == codec.INVALID_APPROVAL:
                        self._approval = None
                    delay = self.options.in_use_backoff
                except Exception as exc:
                    log.warning("KIS session lost: %s", self.redact(_describe(exc)))
                finally:
                    if self.connected:
                        self.reconnects += 1
                    self.connected = False
                    self.budget.on_disconnect()
                    self._pending.clear()
                self._attempt += 1
                backoff = min(self.options.backoff_cap,
                              self.options.backoff_base * 2 ** min(self._attempt, 16))
                await asyncio.sleep(max(delay, random.uniform(0, backoff)))  # full jitter

    async def _session(self, http: aiohttp.ClientSession) -> None:
        key = await self._approval_key(http)
        async with http.ws_connect(self.options.ws_url + WS_PATH, heartbeat=None,
                                   max_msg_size=codec.MAX_FRAME_CHARS * 4) as ws:
            self.sessions += 1
            self.connected = True
            self.last_message_at = self.clock()
            log.info("KIS session open (%s)", self.options.ws_url)
            planner = asyncio.get_running_loop().create_task(self._planner(ws, http, key))
            try:
                await self._reader(ws)
            finally:
                planner.cancel()
                # wait() neither raises the planner's end nor swallows our own cancellation
                await asyncio.wait([planner])
                if not planner.cancelled() and planner.exception() is not None:
                    log.debug("KIS planner ended: %s", self.redact(_describe(
                        planner.exception() or Exception())))

    async def _reader(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            try:
                msg = await ws.receive(timeout=self.options.idle_timeout)
            except TimeoutError:
                raise ConnectionError(
                    f"nothing received for {self.options.idle_timeout:.0f}s") from None
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise ConnectionError(f"the broker closed the session ({msg.type.name})")
            self.last_message_at = self.clock()
            if msg.type != aiohttp.WSMsgType.TEXT:
                self._drop("binary", "")
                continue
            try:
                frame = codec.decode(msg.data)
            except FrameError as exc:
                self._drop(exc.reason, str(exc))
                continue
            if isinstance(frame, DataFrame):
                self.frames += 1
                self.records += len(frame.records)
                self.last_frame_at = self.last_message_at
                self._attempt = 0  # data flowed: the next loss starts the backoff afresh
                try:
                    self.on_frame(frame)
                except FrameError as exc:
                    self._drop(exc.reason, str(exc))
            elif isinstance(frame, PingPong):
                self.pings += 1
                await ws.send_str(frame.raw)
            else:
                self._on_control(frame)

    async def _planner(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession,
                       key: str) -> None:
        gap = 1.0 / self.options.subscribe_per_second
        while True:
            self._wake.clear()  # before planning: a wake during the sends is not lost
            now = self.clock()
            stuck = [i for i, (_, at) in self._pending.items()
                     if now - at > self.options.reply_timeout]
            if stuck:  # the broker stopped answering: start over on a new session
                await ws.close()
                return
            if self._key_due(now):
                key = await self._refresh_key(http, key)
            for action in self.budget.plan(now):
                self._pending[action.item] = (action.subscribe, self.clock())
                tr_id, symbol = action.item
                await ws.send_str(codec.request(key, tr_id, symbol, action.subscribe,
                                                self.credentials.custtype))
                await asyncio.sleep(gap)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):  # not wait_for: 3.11's can lose a cancel
                    await self._wake.wait()

    def _on_control(self, reply: Control) -> None:
        self.replies[reply.code] += 1
        if reply.code in (codec.APPKEY_IN_USE, codec.INVALID_APPROVAL) and \
                (reply.tr_id, reply.tr_key) not in self._pending:
            raise SessionRefused(reply.code, reply.message)
        item = (reply.tr_id, reply.tr_key)
        pending = self._pending.pop(item, None)
        if pending is None:
            self._log_once("unexpected:" + reply.code, logging.WARNING,
                           "KIS reply to nothing we sent: %s %s %s", reply.tr_id,
                           reply.code, reply.message)
            return
        subscribe = pending[0]
        now = self.clock()
        if reply.code == codec.INVALID_APPROVAL:
            raise SessionRefused(reply.code, reply.message)
        self.refused = None
        if subscribe:
            if reply.ok or reply.code == codec.ALREADY_SUBSCRIBED:
                self.budget.on_reply(item, Reply.SUBSCRIBED, now)
            elif reply.code == codec.MAX_SUBSCRIBE:
                self.budget.on_reply(item, Reply.FULL, now)
                log.warning("KIS: %s %s; the registration budget is now %d",
                            reply.code, reply.message, self.budget.limit)
            else:
                self.budget.on_reply(item, Reply.REFUSED, now)
                self._log_once("refused:" + reply.code, logging.WARNING,
                               "KIS refused %s %s: %s %s", reply.tr_id, reply.tr_key,
                               reply.code, reply.message)
        elif reply.ok or reply.code == codec.NOT_SUBSCRIBED:
            self.budget.on_reply(item, Reply.RELEASED, now)
        else:
            self.budget.on_reply(item, Reply.FAILED, now)
        self._wake.set()

    # -- the approval key -------------------------------------------------------------------------
    def _key_due(self, now: float) -> bool:
        """The key is missing or within ``refresh_margin`` of the end of its lifetime."""
        return self._approval is None or \
            now - self._approval[1] >= self.options.approval_ttl - self.options.refresh_margin

    async def _approval_key(self, http: aiohttp.ClientSession) -> str:
        if self._approval is not None and not self._key_due(self.clock()):
            return self._approval[0]
        body = {"grant_type": "client_credentials", "appkey": self.credentials.appkey,
                "secretkey": self.credentials.appsecret}
        async with http.post(self.options.rest_url + APPROVAL_PATH, json=body) as r:
            text = await r.text()
            if r.status != 200:
                raise ConnectionError(f"approval key refused: HTTP {r.status} "
                                      f"{self.redact(text[:200])}")
            try:
                key = (await r.json(content_type=None))["approval_key"]
            except (ValueError, KeyError, TypeError):
                raise ConnectionError("approval key: unexpected answer") from None
        if not isinstance(key, str) or not key:
            raise ConnectionError("approval key: unexpected answer")
        self.redact.add(key)
        self._approval = (key, self.clock())
        log.info("KIS approval key issued (valid %.0f h)", self.options.approval_ttl / 3600)
        return key

    async def _refresh_key(self, http: aiohttp.ClientSession, key: str) -> str:
        """A new key before the old one ends; on failure keep the old one and retry later."""
        old = self._approval
        self._approval = None
        try:
            return await self._approval_key(http)
        except Exception as exc:
            self._approval = (key, old[1] + 60.0) if old else None  # retry in a minute
            log.warning("KIS approval key refresh failed: %s", self.redact(_describe(exc)))
            return key

    # -- bounded logs ----------------------------------------------------------------------------
    def _drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self._log_once("drop:" + reason, logging.WARNING,
                       "KIS frame dropped (%s): %s; further ones are only counted",
                       reason, self.redact(detail))

    def _log_once(self, key: str, level: int, msg: str, *args: object) -> None:
        if key in self._logged or len(self._logged) > 256:
            return
        self._logged.add(key)
        log.log(level, msg, *args)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
