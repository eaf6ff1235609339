"""The hostile suite runs against every role's public surface: one process, and a
cluster gateway (with its own Redis and engine). Whatever one refuses, both refuse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster import ROLES, front
from tests.support import Server


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=ROLES)
def module_role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(tmp_path: Path, role: str) -> Iterator[Callable[..., Server]]:
    """Fresh servers (as the top-level fixture), of each role in turn."""
    started: list[Server] = []

    def make(env: dict[str, str] | None = None, workdir: Path | None = None) -> Server:
        srv = front(role, workdir or tmp_path / f"srv{len(started)}", env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
