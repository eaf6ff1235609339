"""Cluster test support: a real redis-server, an engine, gateways and nginx,
each its own process on a free loopback port.

Redis runs from the test's own directory with persistence off (never the
system service): stopping it loses every key, the harshest restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import ROOT, Server, die_with_parent, free_port

DEPLOY_NGINX = ROOT / "deploy" / "nginx" / "hts-realtime.conf"


def tool(name: str, *candidates: str) -> str:
    for path in (shutil.which(name), *candidates):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail(f"{name} is not installed: .ci/run installs it (apt-get install {name})")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened: {log.read_text(errors='replace')}")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [tool("redis-server", "/usr/bin/redis-server"), "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        _wait_port(self.port, self.proc, self.log_path)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str) -> str:
        out = subprocess.run([tool("redis-cli", "/usr/bin/redis-cli"), "-p", str(self.port),
                              *args], capture_output=True, text=True, check=True, timeout=10)
        return out.stdout.strip()


class Cluster:
    """One engine and ``n`` gateways on one Redis."""

    def __init__(self, workdir: Path, redis: RedisServer, gateways: int = 2) -> None:
        self.redis = redis
        self.engine = Server(workdir / "engine", {
            "HTS_ROLE": "engine", "HTS_REDIS_URL": redis.url,
        })
        self.gateways = [
            Server(workdir / f"gateway{i}", {
                "HTS_ROLE": "gateway", "HTS_REDIS_URL": redis.url,
                "HTS_ENGINE_URL": self.engine.url, "HTS_GATEWAY_ID": f"gw{i}",
                "HTS_CLUSTER_STATUS_INTERVAL_SECONDS": "0.5",
                "HTS_TRUSTED_PROXIES": "127.0.0.1",  # nginx, in the nginx test
            })
            for i in range(gateways)
        ]

    def start(self) -> Cluster:
        self.engine.start()
        for gw in self.gateways:
            gw.start()
        return self

    def stop(self) -> None:
        for srv in (*self.gateways, self.engine):
            srv.stop()


class Nginx:
    """Debian's nginx with ``deploy/nginx/hts-realtime.conf``, ports swapped for the test's."""

    def __init__(self, workdir: Path, gateway_ports: list[int]) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.gateway_ports = gateway_ports
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "error.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def site(self) -> str:
        text = DEPLOY_NGINX.read_text()
        text = text.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        text = text.replace("listen [::]:80;\n", "")
        for default, port in zip((8001, 8002), self.gateway_ports, strict=True):
            text = text.replace(f"127.0.0.1:{default} ", f"127.0.0.1:{port} ")
        return text.replace("/var/log/nginx/", f"{self.workdir}/")  # its own access log

    def start(self) -> Nginx:
        w = self.workdir
        (w / "site.conf").write_text(self.site())
        (w / "nginx.conf").write_text(f"""
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {w}/access.log;
    client_body_temp_path {w}/body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    include {w}/site.conf;
}}
""")
        binary = tool("nginx", "/usr/sbin/nginx")
        check = subprocess.run([binary, "-t", "-p", str(w), "-c", str(w / "nginx.conf"),
                                "-e", str(w / "error.log")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        log = open(w / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [binary, "-p", str(w), "-c", str(w / "nginx.conf"), "-e", str(w / "error.log"),
             "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        _wait_port(self.port, self.proc, self.log_path)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class GatewayFront(Server):
    """A cluster seen from outside: a gateway, with its own Redis and engine behind it.

    It stands in for a ``Server`` wherever a test talks to the public surface (the
    hostile suite runs against both): HTTP, Socket.IO and ``/api/ws`` go to the gateway,
    users are added on the engine's database, and both run with the same settings.
    """

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.redis = RedisServer(workdir / "redis")
        engine_env = {**(env or {}), "HTS_ROLE": "engine", "HTS_REDIS_URL": self.redis.url}
        if "HTS_METRICS_PORT" in engine_env:  # each process has a listener of its own
            engine_env["HTS_METRICS_PORT"] = str(free_port())
        self.engine = Server(workdir / "engine", engine_env)
        super().__init__(workdir / "gateway", {
            **(env or {}), "HTS_ROLE": "gateway", "HTS_REDIS_URL": self.redis.url,
            "HTS_ENGINE_URL": self.engine.url, "HTS_GATEWAY_ID": "front",
            "HTS_CLUSTER_STATUS_INTERVAL_SECONDS": "0.5"})
        self.database = self.engine.database

    def start(self, timeout: float = 20.0) -> GatewayFront:
        self.redis.start()
        self.engine.start(timeout)
        super().start(timeout)
        return self

    def stop(self) -> None:
        super().stop()
        self.engine.stop()
        self.redis.stop()

    def add_user(self, name: str, password: str = "password1") -> str:
        self.engine.add_user(name, password)
        return self.login(name, password)


ROLES = ("single", "gateway")


def front(role: str, workdir: Path, env: dict[str, str] | None = None) -> Server:
    """The public surface of ``role``: one process, or a gateway in front of an engine."""
    return Server(workdir, env) if role == "single" else GatewayFront(workdir, env)


def module_front(tmp_path_factory: pytest.TempPathFactory, name: str, role: str,
                 env: dict[str, str]) -> Server:
    """``front`` for a module-scoped fixture, started."""
    return front(role, tmp_path_factory.mktemp(f"{name}-{role}"), env).start()
