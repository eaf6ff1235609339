"""The engine's store, as the settings choose: PostgreSQL when ``HTS_DATABASE_URL`` is
set (a cluster's engines share it), else the SQLite file (the embedded default)."""

from __future__ import annotations

from hts_realtime.settings import Settings
from hts_realtime.storage.store import Store


def store_for(settings: Settings) -> Store:
    """The store, not yet started (``await store.start()`` inside the running loop)."""
    if settings.database_url:
        from hts_realtime.storage.postgres import PostgresStore  # asyncpg only when used

        return PostgresStore(settings.database_url,
                             synchronous_commit=settings.database_synchronous_commit,
                             pool_size=settings.database_pool_size)
    from hts_realtime.storage.sqlite import SqliteStore

    return SqliteStore(settings.database, settings.database_synchronous)
