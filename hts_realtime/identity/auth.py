"""Who is calling: a token verified, then checked against the user store.

The one entry point for both transports: the Socket.IO handshake and every
authenticated HTTP route call ``Authenticator.identify``. The identity's
name and roles come from the user store, not the token, so a token can
never claim more than its user has now.
"""

from __future__ import annotations

from dataclasses import replace

from hts_realtime.engine.access import AccessPolicy
from hts_realtime.identity.tokens import Identity, TokenService
from hts_realtime.protocol.errors import HtsError


class SignatureOnly:
    """A cluster gateway's first check: the token's signature and claims. It has no
    user store; ``EngineView.confirm`` asks the engine for the rest."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def identify(self, token: object) -> Identity:
        return self.tokens.verify(token)


class Authenticator:
    def __init__(self, tokens: TokenService, access: AccessPolicy) -> None:
        self.tokens = tokens
        self.access = access

    def identify(self, token: object) -> Identity:
        """The caller's identity; raises auth_failed / token_expired / auth_revoked."""
        claimed = self.tokens.verify(token)
        user = self.access.check(claimed.user_id, claimed.token_id, claimed.issued_at)
        return replace(claimed, username=user.username, roles=user.roles)

    def refusal(self, identity: Identity) -> HtsError | None:
        """Why ``identity`` (already verified) no longer counts, or None."""
        return self.access.refusal(identity.user_id, identity.token_id, identity.issued_at)

    def revoke(self, identity: Identity) -> None:
        """Log out: this token stops working (on every process sharing the store)."""
        self.access.revocations.revoke_token(identity.token_id, identity.user_id,
                                             identity.expires_at)
