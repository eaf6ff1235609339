"""Users: the embedded user store, with scrypt-hashed passwords.

Passwords are hashed with scrypt (memory-hard, from the standard library):
N=2**14, r=8, p=1, i.e. 16 MiB per hash. Neither the password nor the hash
is ever logged. Hashing takes tens of milliseconds: callers on an event
loop should run ``authenticate``/``add`` in an executor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from hts_realtime.storage.db import Database

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_N, _R, _P = 2**14, 8, 1


class UserError(ValueError):
    """A user cannot be created as asked (bad name, duplicate, weak password)."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str
    roles: tuple[str, ...]

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
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, username: str, password: str, *, admin: bool = False) -> User:
        if not USERNAME_RE.match(username):
            raise UserError("username must be 1-64 letters, digits, '_', '.' or '-'")
        if len(password) < 4:
            raise UserError("password must be at least 4 characters")
        roles = "admin" if admin else ""
        try:
            with self.db.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO users (username, password_hash, roles, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (username, hash_password(password), roles, datetime.now(UTC).isoformat()),
                )
        except sqlite3.IntegrityError as exc:
            raise UserError(f"user {username!r} already exists") from exc
        return User(str(cur.lastrowid), username, tuple(r for r in roles.split(",") if r))

    def authenticate(self, username: str, password: str) -> User | None:
        row = self.db.conn.execute(
            "SELECT id, username, password_hash, roles FROM users WHERE username = ?",
            (username,),
        ).fetchone()
        if row is None:
            verify_password(password, _DUMMY_HASH)
            return None
        if not verify_password(password, row["password_hash"]):
            return None
        return _user(row)

    def by_username(self, username: str) -> User | None:
        row = self.db.conn.execute(
            "SELECT id, username, roles FROM users WHERE username = ?", (username,)
        ).fetchone()
        return _user(row) if row else None


def _user(row: sqlite3.Row) -> User:
    roles = tuple(r for r in str(row["roles"]).split(",") if r)
    return User(str(row["id"]), str(row["username"]), roles)
