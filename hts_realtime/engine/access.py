"""Who may still hold a token: the user store and the revocations, checked together.

A signed, unexpired token (``tokens.TokenService.verify``) is necessary, not
sufficient. ``AccessPolicy.refusal`` also requires that its user exists, is
not disabled, that the token was issued at or after the user's
``tokens_valid_after`` (log out everywhere, password change, disable), and
that its ``jti`` was not revoked (logout). The same check runs at connect,
on every authenticated HTTP request, and again for every open socket of a
user whose access changed (``engine.access_watch``).

``RevocationStore`` is the port for revoked token ids and the change feed;
``engine.revocation_store.StoreRevocations`` implements it on the engine's
store, so changes made by another process (the CLI) are seen too. A
scale-out backend (Redis: a key per revoked jti with its expiry, a stream
for the changes) implements the same five methods.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hts_realtime.engine.users import User, UserStore
from hts_realtime.identity.tokens import Identity, TokenService
from hts_realtime.ports import RevocationStore
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked, HtsError

# entries of the optional cache (a user row, a jti's answer): bounded, oldest dropped first
CACHE_ENTRIES = 50_000


class AccessPolicy:
    """``cached=True`` keeps each user's row and each token id's answer in memory, so an
    authenticated request costs no query: the server's ``AccessWatcher`` must then call
    ``forget`` with the users the access-change feed names (any process's change, within
    ``HTS_REVOCATION_POLL_SECONDS``), and this process's own changes call it at once."""

    def __init__(self, users: UserStore, revocations: RevocationStore, *,
                 cached: bool = False) -> None:
        self.users = users
        self.revocations = revocations
        self.cached = cached
        self._users: dict[str, User | None] = {}
        self._revoked: dict[str, bool] = {}

    def forget(self, user_ids: set[str]) -> None:
        """The access of these users changed: ask the stores again."""
        for user_id in user_ids:
            self._users.pop(user_id, None)
        self._revoked.clear()  # revocations are rare; which jti is whose is not kept

    async def _user(self, user_id: str, fresh: bool = False) -> User | None:
        if fresh or not self.cached:
            return await self.users.get(user_id)
        if user_id in self._users:
            return self._users[user_id]
        user = await self.users.get(user_id)
        _bounded_put(self._users, user_id, user)
        return user

    async def _is_revoked(self, token_id: str, fresh: bool = False) -> bool:
        if fresh or not self.cached:
            return await self.revocations.is_revoked(token_id)
        revoked = self._revoked.get(token_id)
        if revoked is None:
            revoked = await self.revocations.is_revoked(token_id)
            _bounded_put(self._revoked, token_id, revoked)
        return revoked

    async def check(self, user_id: str, token_id: str, issued_at: int) -> User:
        """The token's user, as the store knows it now; raises when the token no longer counts."""
        user, refusal = await self.decide(user_id, token_id, issued_at)
        if refusal is not None:
            raise refusal
        assert user is not None
        return user

    async def check_fresh(self, user_id: str, token_id: str, issued_at: int) -> User:
        """``check`` against the stores, past the cache: for a refresh, which is rare and
        must see an operator's change made a moment ago in another process."""
        user, refusal = await self._verdict(user_id, token_id, issued_at, fresh=True)
        if refusal is not None:
            raise refusal
        assert user is not None
        return user

    async def refusal(self, user_id: str, token_id: str, issued_at: int) -> HtsError | None:
        return (await self.decide(user_id, token_id, issued_at))[1]

    async def decide(self, user_id: str, token_id: str,
                     issued_at: int) -> tuple[User | None, HtsError | None]:
        """The user and the refusal at once (a cluster gateway asks the engine this)."""
        user, refusal = await self._verdict(user_id, token_id, issued_at)
        if refusal is not None and self.cached:
            # a refusal is rare and final for the caller: confirm it against the stores, so
            # a cached answer never refuses what another process already allowed again
            # (``hts-realtime user enable`` right before a login and a connect)
            self.forget({user_id})
            self._revoked.pop(token_id, None)
            user, refusal = await self._verdict(user_id, token_id, issued_at)
        return user, refusal

    async def _verdict(self, user_id: str, token_id: str, issued_at: int,
                       fresh: bool = False) -> tuple[User | None, HtsError | None]:
        user = await self._user(user_id, fresh)
        if user is None:
            return None, AuthFailed("the token's user does not exist")
        if user.disabled:
            return user, AuthRevoked("the user is disabled")
        if issued_at < user.tokens_valid_after:
            return user, AuthRevoked("the token was revoked (logged out everywhere, "
                                     "or the password changed)")
        if await self._is_revoked(token_id, fresh):
            return user, AuthRevoked("the token was revoked (logged out)")
        return user, None


class Authenticator:
    """Who calls the engine's own routes: the token verified, then checked against the
    user store, with the name and roles from the store (never from the token)."""

    def __init__(self, tokens: TokenService, access: AccessPolicy) -> None:
        self.tokens = tokens
        self.access = access

    async def identify(self, token: object) -> Identity:
        """The caller's identity; raises auth_failed / token_expired / auth_revoked."""
        claimed = self.tokens.verify(token)
        user = await self.access.check(claimed.user_id, claimed.token_id, claimed.issued_at)
        return replace(claimed, username=user.username, roles=user.roles)

    async def refusal(self, identity: Identity) -> HtsError | None:
        """Why ``identity`` (already verified) no longer counts, or None."""
        return await self.access.refusal(identity.user_id, identity.token_id,
                                          identity.issued_at)

    async def revoke(self, identity: Identity) -> None:
        """Log out: this token stops working (on every process sharing the store)."""
        await self.access.revocations.revoke_token(identity.token_id, identity.user_id,
                                                   identity.expires_at)
        self.access.forget({identity.user_id})


def _bounded_put(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= CACHE_ENTRIES:
        del cache[next(iter(cache))]
    cache[key] = value
