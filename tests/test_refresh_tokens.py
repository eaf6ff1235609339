"""``RefreshTokens`` on the engine's store: the same tests on SQLite and a real PostgreSQL.

Rotation spends a token once (of concurrent spends exactly one wins), a reuse
revokes the family and its live access tokens (through ``revoked_tokens``,
whose trigger feeds ``access_changes``), and only a hash is stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hts_realtime.engine.refresh_tokens import RefreshTokens, digest
from hts_realtime.engine.revocation_store import StoreRevocations
from hts_realtime.identity.tokens import IssuedToken
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked, TokenExpired
from hts_realtime.storage.postgres import PostgresStore
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import Store
from tests.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(str(tmp_path / "hts.db"))
        await s.start()
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        s = await PostgresStore.open(pg.create_database("refresh"))
    yield s
    await s.close()


def access(jti: str, ttl: int = 600) -> IssuedToken:
    now = int(time.time())
    return IssuedToken("a.b.c", ttl, jti, now + ttl, now)


async def test_rotation_and_reuse(store: Store) -> None:
    revocations = StoreRevocations(store)
    refresh = RefreshTokens(store, revocations, ttl_seconds=3600)
    first, ttl = await refresh.issue("7", access("a1"))
    assert ttl == 3600
    stored = await store.fetch("SELECT token_hash FROM refresh_tokens")
    assert [r["token_hash"] for r in stored] == [digest(first)]  # never the token itself
    spent = await refresh.spend(first)
    assert (spent.user_id, spent.access_jti) == ("7", "a1")
    second, _ = await refresh.issue("7", access("a2"), spent.family_id)
    other, _ = await refresh.issue("7", access("b1"))  # another login: its own family
    assert await refresh.family_of("a2") == spent.family_id != await refresh.family_of("b1")
    head = await revocations.head()

    with pytest.raises(AuthRevoked):  # the used one again: the family goes
        await refresh.spend(first)
    assert refresh.reuses == 1
    assert await revocations.is_revoked("a1") and await revocations.is_revoked("a2")
    assert not await revocations.is_revoked("b1")
    _, users = await revocations.changes_after(head)
    assert users == {"7"}  # every server closes the family's sockets
    with pytest.raises(AuthRevoked):
        await refresh.spend(second)
    assert (await refresh.spend(other)).user_id == "7"
    with pytest.raises(AuthFailed):
        await refresh.spend("never-issued")


async def test_concurrent_spends_one_wins(store: Store) -> None:
    refresh = RefreshTokens(store, StoreRevocations(store), ttl_seconds=3600)
    token, _ = await refresh.issue("1", access("x"))
    results = await asyncio.gather(*(refresh.spend(token) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(isinstance(r, AuthRevoked) for r in results if isinstance(r, BaseException))


async def test_expiry_revoke_user_and_purge(store: Store) -> None:
    refresh = RefreshTokens(store, StoreRevocations(store), ttl_seconds=-1)  # born expired
    old, _ = await refresh.issue("3", access("o"))
    with pytest.raises(TokenExpired):
        await refresh.spend(old)
    assert await refresh.purge() == 1
    with pytest.raises(AuthFailed):  # purged: unknown
        await refresh.spend(old)
    refresh.ttl_seconds = 3600
    mine, _ = await refresh.issue("3", access("m"))
    theirs, _ = await refresh.issue("4", access("t"))
    assert await refresh.revoke_user("3") == 1
    with pytest.raises(AuthRevoked):
        await refresh.spend(mine)
    assert (await refresh.spend(theirs)).user_id == "4"
