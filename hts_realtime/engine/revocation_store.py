"""Revoked tokens and the access change feed, on the server's SQLite database.

``revoked_tokens`` holds logged-out token ids until they expire.
``access_changes`` is filled by triggers (schema v5) whenever a user is
disabled, enabled, deleted, changes password, logs out everywhere, or a
token is revoked, whichever process made the change: a running server
polls it (``engine.access_watch``) to close the sockets that lost access.
"""

from __future__ import annotations

import time

from hts_realtime.storage.db import Database

# access_changes rows are kept this long; a server only reads the ones after its cursor
CHANGES_KEPT_SECONDS = 3600
# a revoked token is kept a while past its exp: verification allows a clock leeway
EXPIRED_KEPT_SECONDS = 300


class SqliteRevocations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def revoke_token(self, jti: str, user_id: str, expires_at: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO revoked_tokens (jti, user_id, expires_at) "
                         "VALUES (?, ?, ?)", (jti, user_id, expires_at))

    def is_revoked(self, jti: str) -> bool:
        row = self.db.conn.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?",
                                   (jti,)).fetchone()
        return row is not None

    def head(self) -> int:
        row = self.db.conn.execute("SELECT MAX(id) FROM access_changes").fetchone()
        return int(row[0] or 0)

    def changes_after(self, cursor: int, limit: int = 1000) -> tuple[int, set[str]]:
        rows = self.db.conn.execute(
            "SELECT id, user_id FROM access_changes WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit),
        ).fetchall()
        if not rows:
            return cursor, set()
        return int(rows[-1]["id"]), {str(r["user_id"]) for r in rows}

    def purge(self, now: int | None = None) -> int:
        now = int(time.time()) if now is None else now
        with self.db.transaction() as conn:
            n = conn.execute("DELETE FROM revoked_tokens WHERE expires_at < ?",
                             (now - EXPIRED_KEPT_SECONDS,)).rowcount
            conn.execute("DELETE FROM access_changes WHERE created_at < ?",
                         (now - CHANGES_KEPT_SECONDS,))
        return int(n)
