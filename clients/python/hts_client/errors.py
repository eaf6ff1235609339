"""Errors the SDK raises: the server's error codes, and not reaching it at all."""

from __future__ import annotations

from typing import Any


class HtsError(Exception):
    """The server refused a request: ``code`` is its error code (``invalid_order``,
    ``not_found``, ``token_expired``, ...), ``status`` the HTTP status when over HTTP."""

    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def from_body(cls, body: Any, status: int | None = None,
                  fallback: str = "request failed") -> HtsError:
        """From ``{"error": {"code", "message"}}`` (an HTTP body or a failed ack)."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return cls(str(error.get("code", "error")), str(error.get("message", "")), status)
        return cls("error", f"{fallback} (HTTP {status})" if status else fallback, status)


class Unreachable(HtsError):
    """The server did not answer at all (refused, reset, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__("unreachable", message)

    def __str__(self) -> str:
        return self.message
