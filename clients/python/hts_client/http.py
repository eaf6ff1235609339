"""``HttpClient``: one method per hts-realtime HTTP route.

Errors are raised as ``HtsError`` with the server's ``code`` (and the HTTP
``status``); a server that does not answer is ``Unreachable``. After
``login()`` the client keeps the access token (``client.token``) and the
rotating refresh token (never printed): a request made when the token is about
to expire, or answered ``token_expired``, refreshes it first
(``POST /api/auth/refresh``, one at a time: a refresh token works once) and
goes on. ``refresh()`` does the same on demand (a ``Stream``'s ``renew``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

from hts_client.errors import HtsError, Unreachable

JSON = dict[str, Any]
DEFAULT_TIMEOUT = 10.0
# refresh this long before the access token's exp (a request takes time to arrive)
REFRESH_AHEAD_SECONDS = 30.0


class HttpClient:
    def __init__(self, url: str, *, token: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.token_expires_at: float | None = None  # time.time() of the token's exp
        self._refresh_token: str | None = None
        self._refreshing: asyncio.Lock | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:  # never the token or the password
        return f"HttpClient({self.url!r}, logged_in={self.token is not None})"

    @property
    def refreshable(self) -> bool:
        """Whether ``refresh()`` has a refresh token to spend."""
        return self._refresh_token is not None

    # -- the transport ---------------------------------------------------------------
    async def request(self, method: str, path: str, *, body: Any = None,
                      params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                      auth: bool = True, expect: tuple[int, ...] = (200,),
                      with_headers: bool = False) -> Any:
        """Any route: returns the decoded JSON body (text for non-JSON answers); with
        ``with_headers``, ``(body, headers)``. With a refresh token, an access token
        about to expire (or refused as expired) is refreshed first, and the request
        sent again once."""
        if auth and self._refresh_token is not None and self.token_expires_at is not None \
                and time.time() >= self.token_expires_at - REFRESH_AHEAD_SECONDS:
            await self.refresh()
        try:
            return await self._send(method, path, body, params, headers, auth, expect,
                                    with_headers)
        except HtsError as exc:
            if exc.code != "token_expired" or not auth or self._refresh_token is None:
                raise
        await self.refresh()
        return await self._send(method, path, body, params, headers, auth, expect, with_headers)

    async def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None,
                    headers: dict[str, str] | None, auth: bool, expect: tuple[int, ...],
                    with_headers: bool = False) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        all_headers = dict(headers or {})
        if auth and self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with self._session.request(method, self.url + path, json=body, params=params,
                                             headers=all_headers) as resp:
                if resp.content_type == "application/json":
                    data: Any = await resp.json()
                else:
                    data = await resp.text()
                status = resp.status
                answer_headers = resp.headers.copy()  # case-insensitive
        except aiohttp.ClientConnectionError as exc:
            raise Unreachable(f"cannot reach the server at {self.url}: {exc}") from None
        except TimeoutError:
            raise Unreachable(f"{method} {path}: no answer within {self.timeout:g} s") from None
        if status not in expect:
            raise HtsError.from_body(data, status, f"{method} {path} failed")
        return (data, answer_headers) if with_headers else data

    async def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.request("GET", path, params=query or None)

    # -- auth ------------------------------------------------------------------------
    async def login(self, username: str, password: str) -> JSON:
        """``POST /api/auth/login``; keeps the access and refresh tokens."""
        body: JSON = await self.request("POST", "/api/auth/login", auth=False,
                                        body={"username": username, "password": password})
        self._keep(body)
        return body

    def _keep(self, body: JSON) -> None:
        self.token = str(body["access_token"])
        self.token_expires_at = time.time() + float(body["expires_in"])
        refresh = body.get("refresh_token")
        self._refresh_token = str(refresh) if refresh else None

    async def logout(self, everywhere: bool = False) -> None:
        """``POST /api/auth/logout``: revoke this token and its refresh tokens (or every
        token of the user)."""
        await self.request("POST", "/api/auth/logout", body={"everywhere": everywhere},
                           expect=(204,))
        self.token = self._refresh_token = self.token_expires_at = None

    async def change_password(self, current: str, new: str) -> JSON:
        """``POST /api/auth/password``: earlier tokens are revoked; keeps the fresh ones."""
        body: JSON = await self.request("POST", "/api/auth/password",
                                        body={"current_password": current, "new_password": new})
        self._keep(body)
        return body

    async def refresh(self) -> str:
        """``POST /api/auth/refresh``: a new access token (and the next refresh token).

        One refresh at a time: a refresh token works once, and presenting it twice
        revokes the whole login. Callers waiting meanwhile get the token it brought.
        """
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        spent = self._refresh_token
        async with self._refreshing:
            if self._refresh_token is None:
                raise HtsError("auth_required", "no refresh token: log in")
            if self._refresh_token != spent and self.token is not None:
                return self.token  # refreshed while this caller waited
            body: JSON = await self._send("POST", "/api/auth/refresh",
                                          {"refresh_token": self._refresh_token}, None, None,
                                          False, (200,))
            self._keep(body)
        assert self.token is not None
        return self.token

    # -- market data -----------------------------------------------------------------
    async def symbols(self) -> list[JSON]:
        return list(await self._get("/api/symbols"))

    async def candles(self, symbol: str, interval: str = "1m", limit: int | None = None) -> JSON:
        return dict(await self._get("/api/candles", symbol=symbol, interval=interval,
                                    limit=limit))

    async def market(self) -> JSON:
        return dict(await self._get("/api/market"))

    async def trades(self, symbol: str, limit: int | None = None) -> JSON:
        """``GET /api/trades``: ``{"symbol","prev_close","trades"}``, oldest first."""
        return dict(await self._get("/api/trades", symbol=symbol, limit=limit))

    # -- account and orders ------------------------------------------------------------
    async def account(self) -> JSON:
        return dict(await self._get("/api/account"))

    async def place_order(self, order: JSON, *, idempotency_key: str | None = None) -> JSON:
        """``POST /api/orders``. A key (one is made up when not given) makes a retry
        safe: after a lost answer the same request returns the same order."""
        key = idempotency_key or str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        try:
            return dict(await self.request("POST", "/api/orders", body=order, headers=headers,
                                           expect=(201,)))
        except Unreachable:  # did it arrive? asking again with the same key is safe
            await asyncio.sleep(1.0)
            return dict(await self.request("POST", "/api/orders", body=order, headers=headers,
                                           expect=(201,)))

    async def orders(self, status: str | None = None, *, view: str | None = None,
                     day: str | None = None, limit: int | None = None) -> list[JSON]:
        """``GET /api/orders``, newest first (the newest 500 of every day unless asked)."""
        page = await self.orders_page(view=view, day=day, status=status, limit=limit)
        return list(page["orders"])

    async def orders_page(self, *, view: str | None = None, day: str | None = None,
                          status: str | None = None, cursor: str | None = None,
                          limit: int | None = None) -> JSON:
        """One page, ``{"orders", "next_cursor"}``: pass ``next_cursor`` back as
        ``cursor`` for the next (None: this was the last)."""
        query = {k: v for k, v in (("view", view), ("day", day), ("status", status),
                                   ("cursor", cursor), ("limit", limit)) if v is not None}
        body, headers = await self.request("GET", "/api/orders", params=query or None,
                                           with_headers=True)
        return {"orders": list(body), "next_cursor": headers.get("X-Next-Cursor")}

    async def order(self, order_id: str) -> JSON:
        return dict(await self._get(f"/api/orders/{order_id}"))

    async def amend_order(self, order_id: str, *, price: int | None = None,
                          quantity: int | None = None,
                          idempotency_key: str | None = None) -> JSON:
        """``POST /api/orders/{id}/amend`` (정정): the new order. A key (one is made up
        when not given) makes a retry safe."""
        body = {k: v for k, v in (("price", price), ("quantity", quantity)) if v is not None}
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return dict(await self.request("POST", f"/api/orders/{order_id}/amend", body=body,
                                       headers=headers, expect=(201,)))

    async def cancel_order(self, order_id: str) -> JSON:
        return dict(await self.request("DELETE", f"/api/orders/{order_id}"))

    async def fills(self, order_id: str) -> list[JSON]:
        return list(await self._get(f"/api/orders/{order_id}/fills"))

    # -- strategies --------------------------------------------------------------------
    async def strategy_kinds(self) -> Any:
        return await self._get("/api/strategy-kinds")

    async def create_strategy(self, spec: JSON) -> JSON:
        return dict(await self.request("POST", "/api/strategies", body=spec, expect=(201,)))

    async def strategies(self) -> list[JSON]:
        return list(await self._get("/api/strategies"))

    async def strategy(self, strategy_id: str) -> JSON:
        return dict(await self._get(f"/api/strategies/{strategy_id}"))

    async def start_strategy(self, strategy_id: str) -> JSON:
        return dict(await self.request("POST", f"/api/strategies/{strategy_id}/start", body={}))

    async def stop_strategy(self, strategy_id: str) -> JSON:
        return dict(await self.request("POST", f"/api/strategies/{strategy_id}/stop", body={}))

    async def delete_strategy(self, strategy_id: str) -> None:
        await self.request("DELETE", f"/api/strategies/{strategy_id}", expect=(204,))

    async def strategy_signals(self, strategy_id: str) -> Any:
        return await self._get(f"/api/strategies/{strategy_id}/signals")

    # -- the dashboard's watchlist ------------------------------------------------------
    async def watchlist(self) -> list[str]:
        return list((await self._get("/api/watchlist"))["symbols"])

    async def set_watchlist(self, symbols: list[str]) -> list[str]:
        body = await self.request("PUT", "/api/watchlist", body={"symbols": symbols})
        return list(body["symbols"])

    # -- operations ----------------------------------------------------------------------
    async def status(self) -> JSON:
        """``GET /api/ws/status`` (admin)."""
        return dict(await self._get("/api/ws/status"))

    async def healthz(self) -> JSON:
        return dict(await self.request("GET", "/healthz", auth=False))

    async def readyz(self) -> JSON:
        """The readiness report, ready (200) or not (503)."""
        return dict(await self.request("GET", "/readyz", auth=False, expect=(200, 503)))

    async def metrics(self) -> str:
        """``GET /metrics`` (admin): the Prometheus text."""
        return str(await self._get("/metrics"))

    async def openapi(self) -> JSON:
        return dict(await self.request("GET", "/api/openapi.json", auth=False))

    async def asyncapi(self) -> JSON:
        return dict(await self.request("GET", "/api/asyncapi.json", auth=False))
