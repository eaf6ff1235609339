"""Access tokens: HS256 JWTs, issued and verified strictly.

Verification accepts only HS256, requires every contract claim, checks
issuer, audience and expiry (with a small leeway), and maps each failure
to ``auth_failed`` or ``token_expired``. Tokens are never logged.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from hts_realtime.domain.users import User
from hts_realtime.errors import AuthFailed, TokenExpired
from hts_realtime.settings import Secret

REQUIRED_CLAIMS = ("sub", "name", "roles", "iss", "aud", "iat", "exp", "jti")
ALGORITHM = "HS256"
MAX_TOKEN_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says the caller is."""

    user_id: str
    username: str
    roles: tuple[str, ...]
    expires_at: int
    token_id: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenService:
    def __init__(
        self, secret: Secret, *, issuer: str, audience: str, ttl_seconds: int, leeway_seconds: int
    ) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds

    def issue(self, user: User, ttl_seconds: int | None = None) -> tuple[str, int]:
        """A signed token for ``user`` and its lifetime in seconds."""
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        now = int(time.time())
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
        return jwt.encode(claims, self._secret.reveal(), algorithm=ALGORITHM), ttl

    def verify(self, token: object) -> Identity:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthFailed("token is not a well-formed JWT")
        try:
            claims = jwt.decode(
                token,
                self._secret.reveal(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthFailed(f"invalid token: {_reason(exc)}") from exc
        sub, name, roles = claims["sub"], claims["name"], claims["roles"]
        if not isinstance(sub, str) or not sub or not isinstance(name, str):
            raise AuthFailed("invalid token: sub and name must be strings")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthFailed("invalid token: roles must be a list of strings")
        return Identity(sub, name, tuple(roles), int(claims["exp"]), str(claims["jti"]))


def _reason(exc: Exception) -> str:
    # pyjwt messages name the failing check, never the token itself
    return type(exc).__name__ if not str(exc) else str(exc)
