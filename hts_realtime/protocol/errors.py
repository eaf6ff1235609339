"""The error vocabulary: one exception per wire error code.

Domain and transport raise these; the transport maps them to the wire in
one place (``transport.replies``). ``code`` is what clients dispatch on;
``message`` is for humans; ``http_status`` is used by the REST routes.
"""

from __future__ import annotations

from typing import ClassVar


class HtsError(Exception):
    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message()
        super().__init__(self.message)

    @classmethod
    def default_message(cls) -> str:
        return cls.code.replace("_", " ")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidMessage(HtsError):
    code = "invalid_message"
    http_status = 400


class UnknownEvent(HtsError):
    code = "unknown_event"
    http_status = 400


class InvalidTopic(HtsError):
    code = "invalid_topic"
    http_status = 400


class UnknownSymbol(HtsError):
    code = "unknown_symbol"
    http_status = 400


class NotFound(HtsError):
    code = "not_found"
    http_status = 404


class Forbidden(HtsError):
    code = "forbidden"
    http_status = 403


class RateLimited(HtsError):
    """Too many requests; ``retry_after`` (seconds) becomes HTTP ``Retry-After``."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SubscriptionLimit(HtsError):
    code = "subscription_limit"
    http_status = 400


class AuthRequired(HtsError):
    code = "auth_required"
    http_status = 401


class AuthFailed(HtsError):
    code = "auth_failed"
    http_status = 401


class TokenExpired(HtsError):
    code = "token_expired"
    http_status = 401


class AuthRevoked(HtsError):
    """A well-formed token that no longer counts: logged out, password changed,
    user disabled. Open sockets holding it are closed with this code."""

    code = "auth_revoked"
    http_status = 401


class SlowConsumer(HtsError):
    code = "slow_consumer"
    http_status = 503


class Unavailable(HtsError):
    """The engine (or Redis, or the database) cannot answer right now: a gateway cannot
    reach it, or a standby is taking over; retry after ``retry_after`` seconds."""

    code = "unavailable"
    http_status = 503

    def __init__(self, message: str | None = None, retry_after: float | None = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(HtsError):
    code = "internal_error"
    http_status = 500


# Paper trading refusals (contract §2: "4xx with an error code when refused").
class InvalidOrder(HtsError):
    code = "invalid_order"
    http_status = 400


class InvalidPrice(HtsError):
    code = "invalid_price"
    http_status = 400


class InsufficientFunds(HtsError):
    code = "insufficient_funds"
    http_status = 400


class InsufficientHoldings(HtsError):
    code = "insufficient_holdings"
    http_status = 400


class OrderNotCancellable(HtsError):
    code = "order_not_cancellable"
    http_status = 409


class OrderNotAmendable(HtsError):
    """An amendment (정정) of an order that is no longer open."""

    code = "order_not_amendable"
    http_status = 409


class InvalidStrategy(HtsError):
    code = "invalid_strategy"
    http_status = 400


class Conflict(HtsError):
    code = "conflict"
    http_status = 409



def error_for(code: str, message: str) -> HtsError:
    """The exception for a wire error code (an error another process answered with)."""
    for cls in _all_errors(HtsError):
        if cls.code == code:
            return cls(message)
    return InternalError(message)


def _all_errors(base: type[HtsError]) -> list[type[HtsError]]:
    found = [base]
    for sub in base.__subclasses__():
        found.extend(_all_errors(sub))
    return found
