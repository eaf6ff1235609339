"""``/api/auth/*``: log in, log out, change the password (where the engine is).

A gateway forwards these to the engine, which owns the user store.
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
from hts_realtime.engine.users import User
from hts_realtime.identity.tokens import TokenService
from hts_realtime.protocol import schemas

log = logging.getLogger("hts.http")


class AuthRoutes:
    def __init__(self, callers: Callers, tokens: TokenService, logins: LoginService,
                 watcher: AccessWatcher) -> None:
        self.callers = callers
        self.tokens = tokens
        self.logins = logins
        self.watcher = watcher

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/auth/login", self.login),
            web.post("/api/auth/logout", self.logout),
            web.post("/api/auth/password", self.change_password),
        ]

    async def login(self, request: web.Request) -> web.Response:
        data = schemas.load(schemas.LOGIN, await read_json(request))
        user = await self.logins.login(data["username"], data["password"],
                                       client_address(request))
        log.info("login user=%s", user.user_id)
        return self._token_response(user)

    def _token_response(self, user: User) -> web.Response:
        token, ttl = self.tokens.issue(user)
        return json_response({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "user_id": user.user_id,
            "username": user.username,
        })

    async def logout(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        data = schemas.load(schemas.LOGOUT, await read_optional_json(request))
        if data["everywhere"]:
            await self.logins.users.revoke_tokens(identity.username)
            self.callers.auth.access.forget({identity.user_id})  # counts at once, here
        else:
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
        self.callers.auth.access.forget({identity.user_id})  # counts at once, here
        self.watcher.poke()
        log.info("user=%s changed password", user.user_id)
        return self._token_response(user)
