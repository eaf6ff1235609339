"""``/api/auth/*``: log in, refresh, log out, change the password (where the engine is).

A login answers an access token (a JWT, ``HTS_ACCESS_TOKEN_TTL_SECONDS``) and a
refresh token (opaque, rotating: ``engine.refresh_tokens``). A gateway forwards
these routes to the engine, which owns the user store.
"""

from __future__ import annotations

import logging

from aiohttp import web

from hts_realtime.edge.http.common import (
    Callers,
    client_address,
    json_response,
    read_json,
    read_optional_json,
)
from hts_realtime.engine.access_watch import AccessWatcher
from hts_realtime.engine.login import LoginService
from hts_realtime.engine.refresh_tokens import RefreshTokens
from hts_realtime.engine.users import User
from hts_realtime.identity.tokens import TokenService
from hts_realtime.protocol import schemas
from hts_realtime.protocol.errors import AuthRevoked

log = logging.getLogger("hts.http")


class AuthRoutes:
    def __init__(self, callers: Callers, tokens: TokenService, logins: LoginService,
                 refresh: RefreshTokens, watcher: AccessWatcher) -> None:
        self.callers = callers
        self.tokens = tokens
        self.logins = logins
        self.refresh_tokens = refresh
        self.watcher = watcher

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/auth/login", self.login),
            web.post("/api/auth/refresh", self.refresh),
            web.post("/api/auth/logout", self.logout),
            web.post("/api/auth/password", self.change_password),
        ]

    async def login(self, request: web.Request) -> web.Response:
        data = schemas.load(schemas.LOGIN, await read_json(request))
        user = await self.logins.login(data["username"], data["password"],
                                       client_address(request))
        log.info("login user=%s", user.user_id)
        return await self._token_response(user)

    async def refresh(self, request: web.Request) -> web.Response:
        """Spend a refresh token: a new access token and the family's next refresh token.
        A reuse revokes the family (``RefreshTokens.spend``); its sockets close at once."""
        data = schemas.load(schemas.REFRESH, await read_json(request))
        try:
            spent = await self.refresh_tokens.spend(data["refresh_token"])
        except AuthRevoked:
            self.watcher.poke()  # a reuse revoked access tokens: close their sockets now
            raise
        user = await self.callers.auth.access.check_fresh(spent.user_id, spent.access_jti,
                                                          spent.issued_at)
        log.info("user=%s refreshed its token (family=%s)", user.user_id, spent.family_id)
        return await self._token_response(user, spent.family_id)

    async def _token_response(self, user: User, family_id: str | None = None) -> web.Response:
        access = self.tokens.mint(user)
        refresh, refresh_ttl = await self.refresh_tokens.issue(user.user_id, access, family_id)
        return json_response({
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": access.ttl,
            "refresh_token": refresh,
            "refresh_expires_in": refresh_ttl,
            "user_id": user.user_id,
            "username": user.username,
        })

    async def logout(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        data = schemas.load(schemas.LOGOUT, await read_optional_json(request))
        if data["everywhere"]:
            await self.logins.users.revoke_tokens(identity.username)
            await self.refresh_tokens.revoke_user(identity.user_id)
            self.callers.auth.access.forget({identity.user_id})  # counts at once, here
        else:
            family = await self.refresh_tokens.family_of(identity.token_id)
            if family is not None:  # this login's refresh tokens (and their access tokens)
                await self.refresh_tokens.revoke_family(family)
            await self.callers.auth.revoke(identity)
        self.watcher.poke()  # this process's sockets close now, not at the next poll
        log.info("user=%s logged out%s", identity.user_id,
                 " everywhere" if data["everywhere"] else "")
        return web.Response(status=204)

    async def change_password(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        data = schemas.load(schemas.PASSWORD, await read_json(request))
        user = await self.logins.change_password(identity.username, data["current_password"],
                                                 data["new_password"], client_address(request))
        await self.refresh_tokens.revoke_user(user.user_id)
        self.callers.auth.access.forget({identity.user_id})  # counts at once, here
        self.watcher.poke()
        log.info("user=%s changed password", user.user_id)
        return await self._token_response(user)
