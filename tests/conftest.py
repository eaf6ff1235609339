from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer
from tests.support import Client, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo server shared by the tests that don't change its state destructively."""
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per pytest worker, from its own data directory, started
    on first use; each module takes its own database (``create_database``)."""
    pg = PostgresServer().start()
    yield pg
    pg.destroy()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Fresh servers for tests that restart, kill or reconfigure one."""
    started: list[Server] = []

    def make(env: dict[str, str] | None = None, workdir: Path | None = None) -> Server:
        srv = Server(workdir or tmp_path / f"srv{len(started)}", env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def token(server: Server) -> str:
    return server.login()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    made: list[Client] = []

    def make() -> Client:
        c = Client()
        made.append(c)
        return c

    yield make
    for c in made:
        if c.sio.connected:
            await c.disconnect()
