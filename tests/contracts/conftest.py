"""Port contracts: one scenario body, run against every implementation of a port.

The memory implementations run in the fast tier; the ones that need a server
(Redis, an engine process) start a real one, and are end-to-end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()
