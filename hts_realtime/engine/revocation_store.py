"""Revoked tokens and the access change feed, on the engine's store.

``revoked_tokens`` holds logged-out token ids until they expire.
``access_changes`` is filled by triggers (schema v5) whenever a user is
disabled, enabled, deleted, changes password, logs out everywhere, or a
token is revoked, whichever process made the change: a running server
polls it (``engine.access_watch``) to close the sockets that lost access.
"""

from __future__ import annotations

import time

from hts_realtime.storage.store import Store

# access_changes rows are kept this long; a server only reads the ones after its cursor
CHANGES_KEPT_SECONDS = 3600
# a revoked token is kept a while past its exp: verification allows a clock leeway
EXPIRED_KEPT_SECONDS = 300


class StoreRevocations:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def revoke_token(self, jti: str, user_id: str, expires_at: int) -> None:
        await self.store.execute(
            "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (jti) DO NOTHING", (jti, user_id, expires_at))

    async def is_revoked(self, jti: str) -> bool:
        return await self.store.fetchrow("SELECT 1 FROM revoked_tokens WHERE jti = ?",
                                         (jti,)) is not None

    async def head(self) -> int:
        row = await self.store.fetchrow("SELECT MAX(id) AS head FROM access_changes")
        return int(row["head"] or 0) if row is not None else 0

    async def changes_after(self, cursor: int, limit: int = 1000) -> tuple[int, set[str]]:
        rows = await self.store.fetch(
            "SELECT id, user_id FROM access_changes WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit))
        if not rows:
            return cursor, set()
        return int(rows[-1]["id"]), {str(r["user_id"]) for r in rows}

    async def purge(self, now: int | None = None) -> int:
        now = int(time.time()) if now is None else now
        n = await self.store.execute("DELETE FROM revoked_tokens WHERE expires_at < ?",
                                     (now - EXPIRED_KEPT_SECONDS,))
        await self.store.execute("DELETE FROM access_changes WHERE created_at < ?",
                                 (now - CHANGES_KEPT_SECONDS,))
        return n
