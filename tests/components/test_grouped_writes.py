"""A group commit's writes as few driver calls (``storage.store.grouped``): the result
is the same as running them one by one, and a batch of orders is one call per
statement."""

from __future__ import annotations

import random
import sqlite3

from hts_realtime.storage.store import Write, grouped, table_of

# order-sensitive on purpose: v = v * 3 + x depends on what ran before, per row
STATEMENTS = [
    "INSERT INTO a (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = a.v * 3 + excluded.v",
    "UPDATE a SET v = v * 2 + ? WHERE k = ?",
    "DELETE FROM a WHERE k = ?",
    "INSERT INTO b (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = b.v * 3 + excluded.v",
    "UPDATE b SET v = v * 2 + ? WHERE k = ?",
    "UPDATE b SET v = (SELECT COALESCE(SUM(v), 0) FROM a) + ? WHERE k = ?",  # reads a
]


def params(sql: str, rng: random.Random) -> tuple[int, ...]:
    k, x = rng.randrange(3), rng.randrange(1, 5)
    if sql.startswith("DELETE"):
        return (k,)
    if sql.startswith("UPDATE"):
        return (x, k)
    return (k, x)


def run(writes: list[tuple[str, list[tuple[int, ...]]]]) -> list[tuple[str, int, int]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE a (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("CREATE TABLE b (k INTEGER PRIMARY KEY, v INTEGER)")
    for sql, rows in writes:
        db.executemany(sql, rows)
    return ([("a", *r) for r in db.execute("SELECT k, v FROM a ORDER BY k")]
            + [("b", *r) for r in db.execute("SELECT k, v FROM b ORDER BY k")])


def test_grouped_writes_leave_what_one_by_one_leaves() -> None:
    rng = random.Random(21)
    for _ in range(500):
        writes: list[Write] = []
        for _ in range(rng.randrange(1, 30)):
            sql = rng.choice(STATEMENTS)
            writes.append((sql, params(sql, rng)))
        one_by_one = run([(sql, [tuple(p)]) for sql, p in writes])
        assert run([(sql, [tuple(p) for p in rows]) for sql, rows in grouped(writes)]) \
            == one_by_one, writes


def test_a_batch_of_orders_is_one_call_per_statement() -> None:
    per_order = ["UPDATE accounts SET reserved_cash = reserved_cash + ? WHERE user_id = ?",
                 "INSERT INTO orders (order_id) VALUES (?)",
                 "INSERT INTO user_streams (user_id, last_seq) VALUES (?, ?) "
                 "ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq",
                 "INSERT INTO events (user_id, seq) VALUES (?, ?)",
                 "INSERT INTO outbox (user_id, seq) VALUES (?, ?)"]
    writes: list[Write] = [(sql, (i,)) for i in range(100) for sql in per_order]
    calls = grouped(writes)
    assert [sql for sql, _ in calls] == per_order
    assert all(len(rows) == 100 for _, rows in calls)
    assert table_of(per_order[0]) == "accounts" and table_of(STATEMENTS[5]) is None
