"""Who may still hold a token: the user store and the revocations, on a real SQLite file
(``tests/test_engine_stores.py`` runs the same on PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hts_realtime.engine.access import AccessPolicy
from hts_realtime.engine.revocation_store import StoreRevocations
from hts_realtime.engine.users import UserStore
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import Store

World = tuple[Store, UserStore, StoreRevocations, AccessPolicy]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SqliteStore(str(tmp_path / "a.db"))
    yield s
    await s.close()


@pytest.fixture
def world(store: Store) -> World:
    users = UserStore(store)
    revocations = StoreRevocations(store)
    return store, users, revocations, AccessPolicy(users, revocations)


async def test_refusals(world: World) -> None:
    _, users, revocations, access = world
    ann = await users.add("ann", "pass-ann")
    now = int(time.time())
    assert (await access.check(ann.user_id, "j1", now)).username == "ann"
    assert isinstance(await access.refusal("999", "j1", now), AuthFailed)
    assert isinstance(await access.refusal("not-a-number", "j1", now), AuthFailed)
    await revocations.revoke_token("j1", ann.user_id, now + 60)
    assert isinstance(await access.refusal(ann.user_id, "j1", now), AuthRevoked)
    assert await access.refusal(ann.user_id, "j2", now) is None
    await users.revoke_tokens("ann")  # log out everywhere: the boundary is the next second
    assert isinstance(await access.refusal(ann.user_id, "j2", now), AuthRevoked)
    again = await users.by_username("ann")
    assert again is not None
    assert await access.refusal(ann.user_id, "j3", again.tokens_valid_after) is None
    await users.set_disabled("ann", True)
    later = now + 100
    assert isinstance(await access.refusal(ann.user_id, "j4", later), AuthRevoked)
    await users.set_disabled("ann", False)
    assert await access.refusal(ann.user_id, "j4", later) is None


async def test_every_change_is_in_the_feed_whoever_made_it(world: World) -> None:
    store, users, revocations, _ = world
    ann, bob = await users.add("ann", "pass-ann"), await users.add("bob", "pass-bob")
    cursor = await revocations.head()
    assert await revocations.changes_after(cursor) == (cursor, set())
    await users.set_disabled("bob", True)
    await revocations.revoke_token("jx", ann.user_id, int(time.time()) + 60)
    cursor, changed = await revocations.changes_after(cursor)
    assert changed == {ann.user_id, bob.user_id}
    await users.set_password("ann", "new-pass")
    await store.execute("DELETE FROM users WHERE username = 'bob'")  # an operator, by hand
    cursor, changed = await revocations.changes_after(cursor)
    assert changed == {ann.user_id, bob.user_id}
    assert await revocations.changes_after(cursor) == (cursor, set())


async def test_a_name_is_taken_once_and_passwords_check(world: World) -> None:
    _, users, _, _ = world
    await users.add("ann", "pass-ann")
    with pytest.raises(ValueError, match="already exists"):
        await users.add("ann", "other-pw")
    assert await users.authenticate("ann", "pass-ann") is not None
    assert await users.authenticate("ann", "wrong-pw") is None
    assert await users.authenticate("nobody", "pass-ann") is None


async def test_expired_revocations_are_purged(world: World) -> None:
    _, users, revocations, _ = world
    ann = await users.add("ann", "pass-ann")
    now = int(time.time())
    await revocations.revoke_token("old", ann.user_id, now - 3600)
    await revocations.revoke_token("live", ann.user_id, now + 3600)
    assert await revocations.purge(now) == 1
    assert not await revocations.is_revoked("old") and await revocations.is_revoked("live")
