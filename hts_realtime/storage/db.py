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

SCHEMA: tuple[str, ...] = (
    # v1: users
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # v2: paper trading and the private event journal
    """
    CREATE TABLE accounts (
        user_id TEXT PRIMARY KEY,
        cash INTEGER NOT NULL,
        reserved_cash INTEGER NOT NULL DEFAULT 0,
        realized_pnl INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE user_streams (
        user_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
    );
    CREATE TABLE positions (
        user_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        reserved_quantity INTEGER NOT NULL DEFAULT 0,
        cost INTEGER NOT NULL,
        PRIMARY KEY (user_id, symbol)
    );
    CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        order_type TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price INTEGER,
        status TEXT NOT NULL,
        filled_quantity INTEGER NOT NULL DEFAULT 0,
        filled_amount INTEGER NOT NULL DEFAULT 0,
        last_fill_price INTEGER,
        reserve_price INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        strategy_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX orders_by_user ON orders (user_id, created_at);
    CREATE TABLE fills (
        fill_id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX fills_by_order ON fills (order_id);
    CREATE INDEX orders_open ON orders (symbol, status);
    CREATE TABLE idempotency_keys (
        user_id TEXT NOT NULL,
        key TEXT NOT NULL,
        order_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
    );
    CREATE TABLE events (
        user_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event TEXT NOT NULL,
        topics TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, seq)
    ) WITHOUT ROWID;
    """,
    # v3: strategies
    """
    CREATE TABLE strategies (
        strategy_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        symbol TEXT NOT NULL,
        params TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        auto_trade INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        position INTEGER NOT NULL DEFAULT 0,
        cost INTEGER NOT NULL DEFAULT 0,
        realized_pnl INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX strategies_by_user ON strategies (user_id);
    """,
    # v4: the size of an order's latest fill, for order views read back from disk
    """
    ALTER TABLE orders ADD COLUMN last_fill_quantity INTEGER NOT NULL DEFAULT 0;
    """,
    # v5: each user's watchlist (one row, a JSON list of symbols), and each strategy's
    # recent signals (kept apart from the journal, whose retention is per user)
    """
    CREATE TABLE watchlists (
        user_id TEXT PRIMARY KEY,
        symbols TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE strategy_signals (
        strategy_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (strategy_id, seq)
    ) WITHOUT ROWID;
    """,
    # v5: who may still hold a token. A disabled user, or a token issued before
    # tokens_valid_after (logout everywhere, password change), or a revoked jti
    # (logout) is refused. Triggers note every such change in access_changes,
    # whichever process made it, so a running server closes the affected sockets.
    """
    ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE access_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TRIGGER users_access_changed AFTER UPDATE OF disabled, tokens_valid_after ON users
    BEGIN
        INSERT INTO access_changes (user_id, created_at)
        VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
    END;
    CREATE TRIGGER users_deleted AFTER DELETE ON users
    BEGIN
        INSERT INTO access_changes (user_id, created_at)
        VALUES (OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
    END;
    CREATE TRIGGER token_revoked AFTER INSERT ON revoked_tokens
    BEGIN
        INSERT INTO access_changes (user_id, created_at)
        VALUES (NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
    END;
    """,
    # v7: candles (market history), costs on fills and accounts
    """
    CREATE TABLE candles (
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        start INTEGER NOT NULL,
        open INTEGER NOT NULL,
        high INTEGER NOT NULL,
        low INTEGER NOT NULL,
        close INTEGER NOT NULL,
        volume INTEGER NOT NULL,
        PRIMARY KEY (symbol, interval, start)
    ) WITHOUT ROWID;
    ALTER TABLE fills ADD COLUMN fee INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE fills ADD COLUMN tax INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN fees INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN fees_paid INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN taxes_paid INTEGER NOT NULL DEFAULT 0;
    """,
    # v8: the outbox of a cluster's engine: journaled events not yet in Redis
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    """,
)


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
        for i, script in enumerate(SCHEMA[version:], start=version + 1):
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
