"""Who may still hold a token: the user store and the revocations, checked together.

A signed, unexpired token (``tokens.TokenService.verify``) is necessary, not
sufficient. ``AccessPolicy.refusal`` also requires that its user exists, is
not disabled, that the token was issued at or after the user's
``tokens_valid_after`` (log out everywhere, password change, disable), and
that its ``jti`` was not revoked (logout). The same check runs at connect,
on every authenticated HTTP request, and again for every open socket of a
user whose access changed (``services.access_watch``).

``RevocationStore`` is the port for revoked token ids and the change feed;
``storage.revocations.SqliteRevocations`` implements it on the server's
database, so changes made by another process (the CLI) are seen too. A
scale-out backend (Redis: a key per revoked jti with its expiry, a stream
for the changes) implements the same five methods.
"""

from __future__ import annotations

from typing import Protocol

from hts_realtime.domain.users import User, UserStore
from hts_realtime.errors import AuthFailed, AuthRevoked, HtsError


class RevocationStore(Protocol):
    def revoke_token(self, jti: str, user_id: str, expires_at: int) -> None:
        """Refuse this token id until ``expires_at`` (after which it is expired anyway)."""

    def is_revoked(self, jti: str) -> bool: ...

    def head(self) -> int:
        """The position of the latest access change (a cursor for ``changes_after``)."""

    def changes_after(self, cursor: int, limit: int = 1000) -> tuple[int, set[str]]:
        """The users whose access changed after ``cursor``, and the new cursor."""

    def purge(self, now: int) -> int:
        """Forget revocations of tokens expired before ``now`` and old changes."""


class AccessPolicy:
    def __init__(self, users: UserStore, revocations: RevocationStore) -> None:
        self.users = users
        self.revocations = revocations

    def check(self, user_id: str, token_id: str, issued_at: int) -> User:
        """The token's user, as the store knows it now; raises when the token no longer counts."""
        user, refusal = self._decide(user_id, token_id, issued_at)
        if refusal is not None:
            raise refusal
        assert user is not None
        return user

    def refusal(self, user_id: str, token_id: str, issued_at: int) -> HtsError | None:
        return self._decide(user_id, token_id, issued_at)[1]

    def decide(self, user_id: str, token_id: str,
               issued_at: int) -> tuple[User | None, HtsError | None]:
        """The user and the refusal at once (a cluster gateway asks the engine this)."""
        return self._decide(user_id, token_id, issued_at)

    def _decide(self, user_id: str, token_id: str,
                issued_at: int) -> tuple[User | None, HtsError | None]:
        user = self.users.get(user_id)
        if user is None:
            return None, AuthFailed("the token's user does not exist")
        if user.disabled:
            return user, AuthRevoked("the user is disabled")
        if issued_at < user.tokens_valid_after:
            return user, AuthRevoked("the token was revoked (logged out everywhere, "
                                     "or the password changed)")
        if self.revocations.is_revoked(token_id):
            return user, AuthRevoked("the token was revoked (logged out)")
        return user, None
