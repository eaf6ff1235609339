from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer
from tests.support import Client, Server

# The fast tier (`make test-fast`, `pytest -m fast`): the domain, components with fakes,
# and the in-memory side of each port contract; no server process, no network. Modules
# under these folders are in it; a contract marks its in-memory parameters `fast`.
FAST_DIRS = ("domain", "components")
# fixtures that start a process or reach a server: a fast test must not use them
SLOW_FIXTURES = frozenset({"server", "make_server", "clients", "postgres", "redis_server",
                           "engine_process", "token"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    for item in items:
        parts = Path(str(item.path)).relative_to(tests_dir).parts
        if parts and parts[0] in FAST_DIRS:
            item.add_marker(pytest.mark.fast)
        if item.get_closest_marker("fast") is not None:
            slow = SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if slow:
                raise pytest.UsageError(f"{item.nodeid} is in the fast tier but uses "
                                        f"{sorted(slow)}: move it or drop the mark")


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
