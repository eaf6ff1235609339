"""The embedded SQLite database: one connection, WAL, schema migrations.

All access goes through one ``sqlite3.Connection`` owned by the event-loop
thread. Statements are short (indexed lookups, single-row writes), so they
run inline; ``transaction()`` groups a state change with the journal entry
that reports it, so both commit or neither does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from hts_realtime.storage.migrations import SQLITE


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (a trigger body's ``;`` does not end one)."""
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                yield buf
            buf = ""


class Database:
    """A SQLite database with the project's schema applied."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._depth = 0
        self._migrate()

    def _migrate(self) -> None:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        for i, script in enumerate(SQLITE[version:], start=version + 1):
            with self.transaction():
                for stmt in _statements(script):
                    self.conn.execute(stmt)
                self.conn.execute(f"PRAGMA user_version={i}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error. Nests (savepoint-free):
        an inner ``transaction()`` joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
            # COMMIT itself can fail (a deferred constraint, I/O, a full disk): the
            # transaction is then still open and must be rolled back like any error
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def meta(self, key: str, default: str) -> str:
        """Get ``key`` from the meta table, storing ``default`` if it is absent."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, default))
            return str(conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def ping(self) -> None:
        """Raises if the database cannot answer a query (readiness)."""
        self.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.conn.close()
