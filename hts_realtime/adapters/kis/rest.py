"""REST snapshots from KIS, never faster than the broker allows.

Used for what the WebSocket session does not carry: the first quote of
every symbol at start-up (the real previous close and band), and the
symbols the registration budget could not stream (``feed_limited``), each
refreshed every few seconds.

* Access token: ``POST /oauth2/tokenP`` (app key and secret), valid ~24 h; a
  new one is asked for before it ends and at most once a minute (KIS issues
  one per minute).
* Rate: KIS allows 20 calls a second on a real account and 2 on a paper
  one (``EGW00201`` beyond). Calls here are spaced evenly at ``per_second``
  (the settings default to half of that), so no calendar second sees more
  than ``per_second`` + 1; an ``EGW00201`` still answers with a 1 s pause.
* ``inquire-price`` (FHKST01010100): price, day OHLC, volume, 기준가, and the
  day's limits; ``inquire-asking-price-exp-ccn`` (FHKST01010200): ten levels
  a side and 예상체결가.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp

from hts_realtime.adapters.kis.session import Credentials, Redactor

log = logging.getLogger("hts.kis.rest")

TOKEN_PATH = "/oauth2/tokenP"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
ASKING_PATH = "/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn"
PRICE_TR, ASKING_TR = "FHKST01010100", "FHKST01010200"
RATE_LIMITED = "EGW00201"
TOKEN_MIN_INTERVAL = 61.0  # KIS issues one access token a minute


class RestError(Exception):
    pass


class KisRest:
    def __init__(self, credentials: Credentials, base_url: str, per_second: float,
                 redact: Redactor, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.credentials = credentials
        self.base_url = base_url
        self.per_second = per_second
        self.redact = redact
        self.clock = clock
        self.calls = 0
        self.errors: Counter[str] = Counter()
        self._next_at = 0.0
        self._lock = asyncio.Lock()
        self._token_lock = asyncio.Lock()
        self._token: tuple[str, float] | None = None  # (token, expires at, monotonic)
        self._token_asked_at = -TOKEN_MIN_INTERVAL
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def price(self, symbol: str) -> dict[str, str]:
        body = await self._get(PRICE_PATH, PRICE_TR, symbol)
        out = body.get("output")
        if not isinstance(out, dict):
            raise RestError(f"{PRICE_TR}: no output")
        return {str(k): str(v) for k, v in out.items()}

    async def asking(self, symbol: str) -> tuple[dict[str, str], dict[str, str]]:
        body = await self._get(ASKING_PATH, ASKING_TR, symbol)
        out1, out2 = body.get("output1"), body.get("output2")
        if not isinstance(out1, dict):
            raise RestError(f"{ASKING_TR}: no output1")
        return ({str(k): str(v) for k, v in out1.items()},
                {str(k): str(v) for k, v in out2.items()} if isinstance(out2, dict) else {})

    async def _get(self, path: str, tr_id: str, symbol: str) -> dict[str, Any]:
        token = await self._access_token()
        await self._pace()
        headers = {"content-type": "application/json; charset=utf-8",
                   "authorization": f"Bearer {token}", "appkey": self.credentials.appkey,
                   "appsecret": self.credentials.appsecret, "tr_id": tr_id,
                   "custtype": self.credentials.custtype}
        params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol}
        self.calls += 1
        try:
            async with self._session().get(self.base_url + path, headers=headers,
                                           params=params) as r:
                body = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.errors[type(exc).__name__] += 1
            raise RestError(self.redact(f"{tr_id} {symbol}: {type(exc).__name__}")) from None
        if not isinstance(body, dict):
            raise RestError(f"{tr_id} {symbol}: not an object")
        if str(body.get("rt_cd")) != "0":
            code = str(body.get("msg_cd", ""))
            self.errors[code or "error"] += 1
            if code == RATE_LIMITED:
                self._next_at = max(self._next_at, self.clock() + 1.0)
            elif code in ("EGW00121", "EGW00123"):  # invalid or expired token: ask again
                self._token = None
            raise RestError(self.redact(f"{tr_id} {symbol}: {code} {body.get('msg1', '')}"))
        return body

    async def _pace(self) -> None:
        async with self._lock:
            now = self.clock()
            wait = self._next_at - now
            self._next_at = max(now, self._next_at) + 1.0 / self.per_second
        if wait > 0:
            await asyncio.sleep(wait)

    async def _access_token(self) -> str:
        async with self._token_lock:  # concurrent callers wait for the one request
            return await self._fetch_token()

    async def _fetch_token(self) -> str:
        now = self.clock()
        if self._token is not None and now < self._token[1]:
            return self._token[0]
        if now - self._token_asked_at < TOKEN_MIN_INTERVAL:
            raise RestError("access token: waiting out KIS's one-a-minute issuance")
        self._token_asked_at = now
        body = {"grant_type": "client_credentials", "appkey": self.credentials.appkey,
                "appsecret": self.credentials.appsecret}
        try:
            async with self._session().post(self.base_url + TOKEN_PATH, json=body) as r:
                answer = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RestError(f"access token: {type(exc).__name__}") from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(token, str) or not token:
            detail = answer.get("error_code", "") if isinstance(answer, dict) else ""
            raise RestError(self.redact(f"access token refused: HTTP {status} {detail}"))
        self.redact.add(token)
        ttl = float(answer.get("expires_in", 86_400))
        self._token = (token, now + max(60.0, ttl - 600.0))  # renew 10 min early
        log.info("KIS access token issued (valid %.0f h)", ttl / 3600)
        return token
