"""Which market topics clients hold across a cluster, read from Redis.

Every edge (the gateways, and the engine's own) subscribes to a market topic's
``md:{topic}`` channel while at least one of its clients holds the topic
(``edge.market_relay``), so ``PUBSUB NUMSUB`` over those channels says, per
topic, how many edges want it — without any new message between the processes.
One round trip for every channel; the KIS feed asks every half second.
"""

from __future__ import annotations

from redis.asyncio import Redis

from hts_realtime.ports import CHANNEL_PREFIX, market_channel
from hts_realtime.protocol.topics import MARKET_KINDS, market_topic


class RedisDemand:
    def __init__(self, redis: Redis, symbols: list[str]) -> None:
        self.redis = redis
        self.channels = sorted(market_channel(market_topic(kind, symbol))
                               for symbol in symbols for kind in MARKET_KINDS)

    async def __call__(self) -> dict[str, int]:
        counts = await self.redis.pubsub_numsub(*self.channels)
        out: dict[str, int] = {}
        for channel, n in counts:
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            if int(n) > 0:
                out[name[len(CHANNEL_PREFIX):]] = int(n)
        return out
