"""Refresh tokens: rotating, one family per login, reuse revokes the family.

A login (or a password change) starts a **family** and returns its first
refresh token with the access token. ``POST /api/auth/refresh`` presents it:
the token is marked used, in one conditional ``UPDATE`` (of two concurrent
refreshes with the same token exactly one wins), and the next token of the
same family comes back with a new access token. A refresh token is opaque
(32 random bytes); only its SHA-256 is stored, so the database alone cannot
refresh anyone.

Presenting a token that was already used means two parties hold the family
(a stolen copy, or a client that lost an answer and retried): nobody can tell
which is the owner, so the whole family is revoked, with the access tokens
issued in it (through ``revoked_tokens``, whose trigger makes every server
close the sockets holding them), and the reuse is logged (user and family,
never the token). The user logs in again.

Logout revokes the caller's family, "log out everywhere" and a password
change every family of the user. A refresh also passes the access policy
(``AccessPolicy.check``): a disabled or deleted user, or a family started
before the user's ``tokens_valid_after`` (an operator's ``user passwd`` or
``user logout`` in another process), cannot refresh.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass

from hts_realtime.identity.tokens import IssuedToken
from hts_realtime.ports import RevocationStore
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked, TokenExpired
from hts_realtime.storage.store import Store

log = logging.getLogger("hts.auth")

MAX_REFRESH_TOKEN_CHARS = 128  # token_urlsafe(32) is 43


@dataclass(frozen=True, slots=True)
class Presented:
    """A refresh token that was just spent: whose it is and its family."""

    user_id: str
    family_id: str
    issued_at: int  # when its family's latest token was issued (the access policy checks it)
    access_jti: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokens:
    def __init__(self, store: Store, revocations: RevocationStore, ttl_seconds: int) -> None:
        self.store = store
        self.revocations = revocations
        self.ttl_seconds = ttl_seconds
        self.reuses = 0  # families revoked because a used token came back (status, metrics)

    async def issue(self, user_id: str, access: IssuedToken,
                    family_id: str | None = None) -> tuple[str, int]:
        """A new refresh token (and its lifetime) issued with ``access``, in ``family_id``
        or a new family. It counts from the access token's ``iat``, which is never before
        the user's ``tokens_valid_after`` (a login right after a logout-everywhere)."""
        token = secrets.token_urlsafe(32)
        now = access.issued_at
        await self.store.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, access_jti, "
            "access_expires_at, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest(token), family_id or uuid.uuid4().hex, user_id, access.token_id,
             access.expires_at, now, now + self.ttl_seconds))
        return token, self.ttl_seconds

    async def spend(self, token: object) -> Presented:
        """Mark ``token`` used and say whose it was; raises ``auth_failed`` (unknown),
        ``token_expired``, or ``auth_revoked`` (revoked, or a reuse: then the family is
        revoked here)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_REFRESH_TOKEN_CHARS:
            raise AuthFailed("not a refresh token")
        hashed = digest(token)
        now = int(time.time())
        row = await self.store.write_returning(
            "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
            "AND revoked = 0 AND expires_at > ? "
            "RETURNING user_id, family_id, issued_at, access_jti",
            (now, hashed, now))
        if row is not None:
            return Presented(str(row["user_id"]), str(row["family_id"]), int(row["issued_at"]),
                             str(row["access_jti"]))
        row = await self.store.fetchrow(
            "SELECT user_id, family_id, used_at, revoked, expires_at FROM refresh_tokens "
            "WHERE token_hash = ?", (hashed,))
        if row is None:
            raise AuthFailed("unknown refresh token")
        if row["revoked"]:
            raise AuthRevoked("the refresh token was revoked: log in again")
        if row["used_at"] is not None:
            self.reuses += 1
            await self.revoke_family(str(row["family_id"]))
            log.warning("refresh token reuse: user=%s family=%s; the family is revoked",
                        row["user_id"], row["family_id"])
            raise AuthRevoked("the refresh token was already used: every token of this "
                              "session is revoked; log in again")
        raise TokenExpired("the refresh token has expired: log in again")

    async def family_of(self, access_jti: str) -> str | None:
        """The family an access token was issued in (None: not issued with a refresh)."""
        row = await self.store.fetchrow(
            "SELECT family_id FROM refresh_tokens WHERE access_jti = ?", (access_jti,))
        return None if row is None else str(row["family_id"])

    async def revoke_family(self, family_id: str) -> None:
        """Every refresh token of the family, and its access tokens still alive."""
        await self.store.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?",
                                 (family_id,))
        rows = await self.store.fetch(
            "SELECT user_id, access_jti, access_expires_at FROM refresh_tokens "
            "WHERE family_id = ? AND access_expires_at >= ?", (family_id, int(time.time())))
        for r in rows:
            await self.revocations.revoke_token(str(r["access_jti"]), str(r["user_id"]),
                                                int(r["access_expires_at"]))

    async def revoke_user(self, user_id: str) -> int:
        """Every refresh token of the user (log out everywhere, a password change)."""
        return await self.store.execute(
            "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0",
            (user_id,))

    async def purge(self, now: int | None = None) -> int:
        """Forget expired refresh tokens (a used one is kept until then: reuse detection)."""
        now = int(time.time()) if now is None else now
        return await self.store.execute("DELETE FROM refresh_tokens WHERE expires_at < ?",
                                        (now,))
