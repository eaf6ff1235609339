"""Who may still hold a token: the user store and the revocations, on a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hts_realtime.engine.access import AccessPolicy
from hts_realtime.engine.revocation_store import SqliteRevocations
from hts_realtime.engine.users import UserStore
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked
from hts_realtime.storage.db import Database


@pytest.fixture
def world(tmp_path: Path) -> tuple[Database, UserStore, SqliteRevocations, AccessPolicy]:
    db = Database(str(tmp_path / "a.db"))
    users = UserStore(db)
    revocations = SqliteRevocations(db)
    return db, users, revocations, AccessPolicy(users, revocations)


def test_refusals(world: tuple[Database, UserStore, SqliteRevocations, AccessPolicy]) -> None:
    db, users, revocations, access = world
    ann = users.add("ann", "pass-ann")
    now = int(time.time())
    assert access.check(ann.user_id, "j1", now).username == "ann"
    assert isinstance(access.refusal("999", "j1", now), AuthFailed)
    assert isinstance(access.refusal("not-a-number", "j1", now), AuthFailed)
    revocations.revoke_token("j1", ann.user_id, now + 60)
    assert isinstance(access.refusal(ann.user_id, "j1", now), AuthRevoked)
    assert access.refusal(ann.user_id, "j2", now) is None
    users.revoke_tokens("ann")  # log out everywhere: the boundary is the next second
    assert isinstance(access.refusal(ann.user_id, "j2", now), AuthRevoked)
    assert access.refusal(ann.user_id, "j3", users.by_username("ann").tokens_valid_after) is None
    users.set_disabled("ann", True)
    later = now + 100
    assert isinstance(access.refusal(ann.user_id, "j4", later), AuthRevoked)
    users.set_disabled("ann", False)
    assert access.refusal(ann.user_id, "j4", later) is None
    db.close()


def test_every_change_is_in_the_feed_whoever_made_it(
        world: tuple[Database, UserStore, SqliteRevocations, AccessPolicy],
        tmp_path: Path) -> None:
    db, users, revocations, _ = world
    ann, bob = users.add("ann", "pass-ann"), users.add("bob", "pass-bob")
    cursor = revocations.head()
    assert revocations.changes_after(cursor) == (cursor, set())
    other = Database(db.path)  # another process's connection (the CLI)
    UserStore(other).set_disabled("bob", True)
    SqliteRevocations(other).revoke_token("jx", ann.user_id, int(time.time()) + 60)
    other.close()
    cursor, changed = revocations.changes_after(cursor)
    assert changed == {ann.user_id, bob.user_id}
    users.set_password("ann", "new-pass")
    db.conn.execute("DELETE FROM users WHERE username = 'bob'")  # an operator, by hand
    cursor, changed = revocations.changes_after(cursor)
    assert changed == {ann.user_id, bob.user_id}
    assert revocations.changes_after(cursor) == (cursor, set())
    db.close()


def test_expired_revocations_are_purged(
        world: tuple[Database, UserStore, SqliteRevocations, AccessPolicy]) -> None:
    db, users, revocations, _ = world
    ann = users.add("ann", "pass-ann")
    now = int(time.time())
    revocations.revoke_token("old", ann.user_id, now - 3600)
    revocations.revoke_token("live", ann.user_id, now + 3600)
    assert revocations.purge(now) == 1
    assert not revocations.is_revoked("old") and revocations.is_revoked("live")
    db.close()
