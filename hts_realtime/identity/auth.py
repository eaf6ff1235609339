"""Who is calling, as far as the token alone can tell: its signature and claims.

Every edge verifies a token this way (``SignatureOnly``); the engine then
confirms it against the user store (``EngineView.confirm``, or
``engine.access.Authenticator`` on the engine's own routes), so the identity's
name and roles come from the store, never from the token.
"""

from __future__ import annotations

from hts_realtime.identity.tokens import Identity, TokenService


class SignatureOnly:
    """A cluster gateway's first check: the token's signature and claims. It has no
    user store; ``EngineView.confirm`` asks the engine for the rest."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def identify(self, token: object) -> Identity:
        return self.tokens.verify(token)
