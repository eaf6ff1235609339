"""Users: the embedded user store, with scrypt-hashed passwords.

Passwords are hashed with scrypt (memory-hard, from the standard library):
N=2**14, r=8, p=1, i.e. 16 MiB per hash. Neither the password nor the hash
is ever logged. Hashing takes tens of milliseconds: callers on an event
loop run ``authenticate``/``add``/``set_password`` off the loop, bounded
(``engine.login``).

A user also carries who may still hold a token: ``disabled`` refuses every
token and login, and ``tokens_valid_after`` refuses every token issued
before it (log out everywhere, a password change, a disable). Both are
checked on every connect and HTTP request (``engine.access``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from hts_realtime.storage.store import Row, Store

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_N, _R, _P = 2**14, 8, 1


class UserError(ValueError):
    """A user cannot be created as asked (bad name, duplicate, weak password)."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str
    roles: tuple[str, ...]
    disabled: bool = False
    tokens_valid_after: int = 0  # epoch seconds: tokens with an earlier `iat` are revoked

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A hash to check against when the user does not exist, so a login for an
# unknown name costs the same time as one with a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


class UserStore:
    """Users on the engine's store (SQLite or PostgreSQL): every call is async, so a
    network round trip never blocks the event loop. The server's own writes (a new
    password, log out everywhere) and the CLI's go straight to the database; the
    access-change triggers tell every server about them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, username: str, password: str, *, admin: bool = False) -> User:
        """Hashes on the calling thread (the CLI, the demo's seed at start-up)."""
        if not USERNAME_RE.match(username):
            raise UserError("username must be 1-64 letters, digits, '_', '.' or '-'")
        check_password(password)
        roles = "admin" if admin else ""
        row = await self.store.write_returning(
            "INSERT INTO users (username, password_hash, roles, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (username) DO NOTHING RETURNING id",
            (username, hash_password(password), roles, datetime.now(UTC).isoformat()))
        if row is None:
            raise UserError(f"user {username!r} already exists")
        return User(str(row["id"]), username, tuple(r for r in roles.split(",") if r))

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right (disabled or not: the caller decides).

        Hashes on the calling thread: the server uses ``login_record`` and
        ``verify_password`` off the loop instead (``engine.login``).
        """
        user, encoded = await self.login_record(username)
        return user if verify_password(password, encoded) and user is not None else None

    async def login_record(self, username: str) -> tuple[User | None, str]:
        """The user and its password hash; for an unknown name, None and a dummy
        hash, so checking it costs the same time as a wrong password."""
        row = await self.store.fetchrow(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?", (username,))
        if row is None:
            return None, _DUMMY_HASH
        return _user(row), str(row["password_hash"])

    async def by_username(self, username: str) -> User | None:
        row = await self.store.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,))
        return _user(row) if row else None

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None (also for an id that is not a number)."""
        if not user_id.isdigit() or len(user_id) > 18:
            return None
        row = await self.store.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE id = ?", (int(user_id),))
        return _user(row) if row else None

    # -- who may hold a token --------------------------------------------------------
    async def set_password(self, username: str, password: str) -> User:
        """A new password; every token issued before now stops working."""
        check_password(password)
        return await self.set_password_hash(username, hash_password(password))

    async def set_password_hash(self, username: str, encoded: str) -> User:
        return await self._update(username, "password_hash = ?, tokens_valid_after = ?",
                                  encoded, revoke_before())

    async def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (which also revokes every token) or enable a user."""
        if disabled:
            return await self._update(username, "disabled = 1, tokens_valid_after = ?",
                                      revoke_before())
        return await self._update(username, "disabled = 0")

    async def revoke_tokens(self, username: str) -> User:
        """Log out everywhere: every token issued before now stops working."""
        return await self._update(username, "tokens_valid_after = ?", revoke_before())

    async def _update(self, username: str, assignments: str, *args: object) -> User:
        row = await self.store.write_returning(
            f"UPDATE users SET {assignments} WHERE username = ? RETURNING {_COLUMNS}",
            (*args, username))
        if row is None:
            raise UserError(f"no user {username!r}")
        return _user(row)


def revoke_before() -> int:
    """``tokens_valid_after`` for a revocation now.

    ``iat`` has whole seconds, so a token issued earlier in this same second
    must be refused too: the boundary is the next second, and tokens issued
    from now on carry ``iat >= tokens_valid_after`` (``TokenService.issue``).
    """
    return int(time.time()) + 1


def check_password(password: str) -> None:
    if len(password) < 4:
        raise UserError("password must be at least 4 characters")


_COLUMNS = "id, username, roles, disabled, tokens_valid_after"


def _user(row: Row) -> User:
    roles = tuple(r for r in str(row["roles"]).split(",") if r)
    return User(str(row["id"]), str(row["username"]), roles, bool(row["disabled"]),
                int(row["tokens_valid_after"]))
