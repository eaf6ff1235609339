"""A real PostgreSQL server for the tests, from its own data directory.

``initdb`` and ``pg_ctl`` from Debian's ``postgresql`` package
(``/usr/lib/postgresql/*/bin``), a fresh cluster in a temporary directory,
listening on 127.0.0.1 at a free port with its socket in the data
directory: never the system service, never its port. PostgreSQL refuses to
run as root, so under root (CI, these machines) the cluster belongs to the
``postgres`` user the package creates and every tool runs as that user.

Each test module asks for its own database (``create_database``), so the
stores' tests and the cluster tests share one server per pytest worker
without seeing each other's rows. ``restart`` stops and starts the same
cluster (the "PostgreSQL restarted mid-flow" fault).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import free_port


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"PostgreSQL's {name} is not installed: .ci/run installs it "
                    "(apt-get install postgresql)")
    return path


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        # under /tmp, not pytest's 0700 directory: the postgres user must reach it
        self.root = Path(tempfile.mkdtemp(prefix="hts-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._databases = 0

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        user = self._user
        return subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, cwd=self.root,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            extra_groups=[] if user else None, env={**os.environ, "LC_ALL": "C.UTF-8"},
        )

    def start(self) -> PostgresServer:
        if not self.data.exists():
            out = self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "hts",
                            "--auth=trust", "-E", "UTF8", "--no-instructions")
            if out.returncode != 0:
                raise RuntimeError(f"initdb failed: {out.stderr}")
        # fsync and synchronous_commit stay on (the defaults): what the engine
        # acknowledges must be on disk, in tests as in production
        opts = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c shared_buffers=32MB")
        out = self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                        "-o", opts, "-w", "-t", "120", "start", timeout=150)
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {out.stderr} {self.log()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster (its children follow): a crash, no shutdown checkpoint."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def restart(self, downtime: float = 0.0) -> None:
        self.stop("immediate")
        time.sleep(downtime)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://hts@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        deadline = time.monotonic() + 60
        while True:
            out = self._run(pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            "hts", "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-c", sql)
            if out.returncode == 0:
                return out.stdout.strip()
            # after a crash-like stop the server may still be recovering (a loaded machine)
            if "not yet accepting connections" not in out.stderr or time.monotonic() > deadline:
                raise RuntimeError(f"psql failed: {out.stderr}")
            time.sleep(0.2)

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
