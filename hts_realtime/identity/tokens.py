"""Access tokens: HS256 JWTs, issued and verified strictly.

Verification accepts only HS256, requires every contract claim with its
JSON type (``sub``, ``name``, ``jti`` non-empty strings; ``roles`` a list of
strings; ``iat``, ``exp`` and an optional ``nbf`` numbers, never strings or
booleans), checks issuer, audience and expiry (with a small leeway), and
maps each failure to ``auth_failed`` or ``token_expired``. A valid token
says who the caller claims to be; the engine then checks that against the
user store (``engine.access``). Tokens are never logged.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from hts_realtime.protocol.errors import AuthFailed, TokenExpired
from hts_realtime.settings import Secret


class Subject(Protocol):
    """Whom a token is issued to (``engine.users.User``)."""

    @property
    def user_id(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def tokens_valid_after(self) -> int:
        """Tokens issued before this (epoch seconds) no longer count."""


REQUIRED_CLAIMS = ("sub", "name", "roles", "iss", "aud", "iat", "exp", "jti")
ALGORITHM = "HS256"
MAX_TOKEN_BYTES = 4096
VERIFIED_CACHE = 16_384  # tokens kept verified (~0.5 KB each)
MAX_EPOCH = 2**53


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says the caller is."""

    user_id: str
    username: str
    roles: tuple[str, ...]
    expires_at: int
    token_id: str
    issued_at: int = 0

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed access token: the JWT, its lifetime, its ``jti`` and ``exp``."""

    token: str
    ttl: int
    token_id: str
    expires_at: int
    issued_at: int

    def __repr__(self) -> str:  # never the token itself
        return f"IssuedToken(jti={self.token_id!r}, expires_at={self.expires_at})"


class TokenService:
    def __init__(
        self, secret: Secret, *, issuer: str, audience: str, ttl_seconds: int, leeway_seconds: int
    ) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds
        self._verified: dict[str, Identity] = {}

    def issue(self, user: Subject, ttl_seconds: int | None = None) -> tuple[str, int]:
        """A signed token for ``user`` and its lifetime in seconds."""
        issued = self.mint(user, ttl_seconds)
        return issued.token, issued.ttl

    def mint(self, user: Subject, ttl_seconds: int | None = None) -> IssuedToken:
        """A signed token for ``user``, with the claims a refresh token is tied to."""
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        # never before the user's revocation boundary, which may be up to a second
        # ahead (users.revoke_before): a token issued right after a logout-everywhere
        # or a password change must count
        now = max(int(time.time()), user.tokens_valid_after)
        claims = {
            "sub": user.user_id,
            "name": user.username,
            "roles": list(user.roles),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._secret.reveal(), algorithm=ALGORITHM)
        return IssuedToken(token, ttl, str(claims["jti"]), now + ttl, now)

    def verify(self, token: object) -> Identity:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthFailed("token is not a well-formed JWT")
        # a token that verified once has the same claims every time: only its expiry can
        # change the answer (decoding and checking costs ~40 µs a request; this ~1)
        known = self._verified.get(token)
        if known is not None:
            if time.time() >= known.expires_at + self.leeway_seconds:  # as pyjwt decides
                del self._verified[token]
                raise TokenExpired("token has expired")
            return known
        identity = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = identity
        return identity

    def _verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._secret.reveal(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                # iat is checked below: issue() may set it up to a second ahead
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True,
                         "verify_iat": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthFailed(f"invalid token: {_reason(exc)}") from exc
        _check_types(claims)
        if claims["iat"] > time.time() + self.leeway_seconds + 1:
            raise AuthFailed("invalid token: issued in the future")
        return Identity(claims["sub"], claims["name"], tuple(claims["roles"]),
                        _epoch(claims["exp"]), claims["jti"], _epoch(claims["iat"]))


def _epoch(value: float) -> int:
    # a signed 1e300 is still a number; keep it storable (SQLite INTEGER)
    return min(max(int(value), 0), MAX_EPOCH)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _check_types(claims: dict[str, Any]) -> None:
    """Every claim with its JSON type: pyjwt itself accepts ``"exp": "9999999999"``."""
    for name in ("sub", "name", "jti"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise AuthFailed(f"invalid token: {name} must be a non-empty string")
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthFailed("invalid token: roles must be a list of strings")
    for name in ("iat", "exp", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise AuthFailed(f"invalid token: {name} must be a number")


def _reason(exc: Exception) -> str:
    # pyjwt messages name the failing check, never the token itself
    return type(exc).__name__ if not str(exc) else str(exc)
