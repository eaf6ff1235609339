"""REST snapshots against the fake KIS server: the broker's call rate is never
exceeded, one access token serves every call, answers are parsed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hts_realtime.adapters.kis.rest import KisRest, RestError
from hts_realtime.adapters.kis.session import Credentials, Redactor
from tests.fakes.kis import APPKEY, APPSECRET, FakeKis


@pytest.fixture
async def fake() -> AsyncIterator[FakeKis]:
    f = await FakeKis({"005930": 75_000, "000660": 180_000}, rest_per_second=6).start()
    yield f
    await f.stop()


async def test_calls_are_spaced_under_the_brokers_limit(fake: FakeKis) -> None:
    rest = KisRest(Credentials(APPKEY, APPSECRET), fake.url, per_second=5, redact=Redactor())
    try:
        answers = await asyncio.gather(*(rest.price("005930") for _ in range(16)))
        assert all(a["stck_prpr"] == "75000" and a["stck_sdpr"] == "75000" for a in answers)
        assert fake.rest_calls_max_per_second <= 6 and fake.stats["rest_rate_limited"] == 0
        assert fake.stats["token_requests"] == 1
        out1, out2 = await rest.asking("000660")
        assert int(out1["askp1"]) > int(out1["bidp1"]) > 0 and out2["antc_cnpr"] == "0"
    finally:
        await rest.close()


async def test_over_the_limit_the_broker_says_egw00201_and_the_client_backs_off(
        fake: FakeKis) -> None:
    rest = KisRest(Credentials(APPKEY, APPSECRET), fake.url, per_second=1000,
                   redact=Redactor())
    try:
        results = await asyncio.gather(*(rest.price("005930") for _ in range(12)),
                                       return_exceptions=True)
        refused = [r for r in results if isinstance(r, RestError)]
        assert refused and all("EGW00201" in str(r) for r in refused)
        assert rest.errors["EGW00201"] == len(refused)
        assert rest._next_at > rest.clock()  # the next call waits out the second
    finally:
        await rest.close()


async def test_a_wrong_secret_is_an_error_without_the_secret(fake: FakeKis) -> None:
    rest = KisRest(Credentials(APPKEY, "wrong-secret-value"), fake.url, per_second=5,
                   redact=Redactor())
    rest.redact.add("wrong-secret-value")
    try:
        with pytest.raises(RestError) as info:
            await rest.price("005930")
        assert "403" in str(info.value) and "wrong-secret-value" not in str(info.value)
    finally:
        await rest.close()
