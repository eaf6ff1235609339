"""One schema, one migration history, for SQLite and PostgreSQL.

``SQLITE`` is the history as written since v1 (an existing ``hts.db`` is at
``PRAGMA user_version`` 8 or 9 and continues from there). PostgreSQL replays
the same list from v1: ``postgresql(i)`` is migration ``i`` in its dialect,
translated by three mechanical rules (an autoincrement key becomes an identity
column, every integer a ``BIGINT`` because won amounts pass 2^31, ``WITHOUT
ROWID`` goes) or, where SQLite's text cannot be translated (trigger bodies),
given in full in ``POSTGRESQL_OVERRIDES``. ``tests/test_store.py`` applies the
history on both and compares the resulting tables and columns.

Why our own runner and not a migration tool: ten short scripts, two dialects,
applied in order at start-up in one transaction each; alembic would bring
SQLAlchemy for that. The version lives where each database keeps such things:
``PRAGMA user_version`` in SQLite, a one-row ``schema_version`` table in
PostgreSQL.
"""

from __future__ import annotations

import re

SQLITE: tuple[str, ...] = (
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
    # v9 (issue 21): the engine's leadership lease, and the market's last state.
    # leases: one row per lease name; `epoch` grows by one at every takeover and every
    # write transaction of the leader checks it (fencing). expires_at is in ms of the
    # database's clock, so engines on different machines agree on it.
    # market_state: each symbol's simulator state (JSON), written by the leader every
    # tick, so a standby that takes over continues the prices instead of restarting them.
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        epoch INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE market_state (
        symbol TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    """,
    # v10 (issue 22): amendments (정정, cancel-and-replace): the link both ways between
    # an order and the order that amends it, and the time priority an amendment that
    # only lowers the quantity keeps (NULL: the order's created_at)
    """
    ALTER TABLE orders ADD COLUMN original_order_id TEXT;
    ALTER TABLE orders ADD COLUMN replaced_by TEXT;
    ALTER TABLE orders ADD COLUMN queued_at TEXT;
    """,
    # v11 (issue 22): T+2 settlement (D+2 예수금): each user's net cash still to settle,
    # per settlement day (a KRX business day, ISO date); rows of past days are pruned
    """
    CREATE TABLE settlements (
        user_id TEXT NOT NULL,
        settle_date TEXT NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (user_id, settle_date)
    );
    """,
    # v12 (issue 23): refresh tokens. Only a SHA-256 of each token is stored. A login
    # starts a family; each refresh marks its token used and issues the next one in the
    # family; presenting a used token again revokes the whole family (and the access
    # tokens issued with it, through revoked_tokens). access_jti/access_expires_at: the
    # access token issued together with this refresh token.
    """
    CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        access_jti TEXT NOT NULL,
        access_expires_at INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
    CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
    CREATE INDEX refresh_tokens_by_access ON refresh_tokens (access_jti);
    """,
    # v13 (issue 23): the client's own id for an order (client_order_id), echoed on its
    # views and order_update events
    """
    ALTER TABLE orders ADD COLUMN client_order_id TEXT;
    """,
)


# migration index (0-based) -> its PostgreSQL text, where translation cannot do it
POSTGRESQL_OVERRIDES: dict[int, str] = {
    5: """
    ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE access_changes (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE FUNCTION hts_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'revoked_tokens' THEN
            INSERT INTO access_changes (user_id, created_at)
            VALUES (NEW.user_id, extract(epoch FROM now())::bigint);
            RETURN NEW;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO access_changes (user_id, created_at)
            VALUES (OLD.id::text, extract(epoch FROM now())::bigint);
            RETURN OLD;
        END IF;
        INSERT INTO access_changes (user_id, created_at)
        VALUES (NEW.id::text, extract(epoch FROM now())::bigint);
        RETURN NEW;
    END $$;
    CREATE TRIGGER users_access_changed AFTER UPDATE OF disabled, tokens_valid_after ON users
        FOR EACH ROW EXECUTE FUNCTION hts_access_changed();
    CREATE TRIGGER users_deleted AFTER DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION hts_access_changed();
    CREATE TRIGGER token_revoked AFTER INSERT ON revoked_tokens
        FOR EACH ROW EXECUTE FUNCTION hts_access_changed();
    """,
}

_AUTOINCREMENT = re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b")
_INTEGER = re.compile(r"\bINTEGER\b")
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT ROWID\s*;")


def postgresql(index: int) -> str:
    """Migration ``index`` (0-based) in PostgreSQL's dialect."""
    if index in POSTGRESQL_OVERRIDES:
        return POSTGRESQL_OVERRIDES[index]
    sql = _AUTOINCREMENT.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", SQLITE[index])
    sql = _INTEGER.sub("BIGINT", sql)
    return _WITHOUT_ROWID.sub(");", sql)


VERSION = len(SQLITE)
