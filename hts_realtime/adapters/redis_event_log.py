"""``EventLog`` over Redis Streams: one stream per user, ``ev:{user_id}``.

An entry's stream id is ``{seq}-0``, so the stream position *is* the
private stream's ``seq``: ``head`` is the last id, a resume is an
``XRANGE`` from ``(last_seq-0``. The engine appends through ``append_many``
(its outbox relay) and nobody else writes.

Appending is idempotent: one Lua script adds an event only if its ``seq``
is above the stream's last one, and publishes it on ``pv:{user_id}`` in the
same step, so a re-sent event (after an outage, or an engine restart between
sending and forgetting) is neither stored nor published twice, and a gateway
that reads the head after subscribing misses nothing.

The epoch key marks a Redis that holds the streams: when it is missing
(a fresh Redis, or one restarted without persistence) the engine fills the
streams again from its journal before sending anything new.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio import Redis

from hts_realtime.domain.events import JournalRow, PrivateEvent, decode_event, encode_event
from hts_realtime.ports import private_channel

EPOCH_KEY = "hts:epoch"
READ_BATCH = 500

_APPEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local last_seq = tonumber(string.match(last[1][1], '^(%d+)'))
  if last_seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], ARGV[1] .. '-0', 'd', ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
"""


def stream_key(user_id: str) -> str:
    return f"ev:{user_id}"


def _seq(entry_id: Any) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


class RedisEventLog:
    def __init__(self, redis: Redis, max_length: int) -> None:
        self.redis = redis
        self.max_length = max_length
        self._append = redis.register_script(_APPEND)

    # -- EventLog ------------------------------------------------------------------------
    async def head(self, user_id: str) -> int:
        last = await self.redis.xrevrange(stream_key(user_id), "+", "-", count=1)
        return _seq(last[0][0]) if last else 0

    async def first_kept(self, user_id: str) -> int | None:
        first = await self.redis.xrange(stream_key(user_id), "-", "+", count=1)
        return _seq(first[0][0]) if first else None

    async def read_after(
        self, user_id: str, after: int, upto: int
    ) -> AsyncIterator[JournalRow]:
        cursor = after
        key = stream_key(user_id)
        while cursor < upto:
            entries = await self.redis.xrange(key, f"({cursor}-0", f"{upto}-0", count=READ_BATCH)
            if not entries:
                return
            for _id, fields in entries:
                ev = decode_event(fields[b"d"])  # type: ignore[index]
                yield JournalRow(ev.seq, ev.event, ev.topics,
                                 json.dumps(ev.payload, separators=(",", ":"), ensure_ascii=False))
            cursor = _seq(entries[-1][0])

    # -- the engine's side ---------------------------------------------------------------
    async def append_many(self, events: Sequence[PrivateEvent]) -> int:
        """Append (and publish) each event not already there, in order; returns how many."""
        if not events:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for ev in events:
                await self._append(
                    keys=[stream_key(ev.user_id), private_channel(ev.user_id)],
                    args=[ev.seq, encode_event(ev), self.max_length],
                    client=pipe,
                )
            results = await pipe.execute()
        return sum(int(r) for r in results)

    async def has_epoch(self) -> bool:
        return bool(await self.redis.exists(EPOCH_KEY))

    async def set_epoch(self, epoch: str) -> None:
        await self.redis.set(EPOCH_KEY, epoch)
