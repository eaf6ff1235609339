"""Shared plumbing for the benchmarks.

* ``HtsServer`` / ``PeerServer``: the server under test and the Node peer,
  as subprocesses pinned to the server core (``taskset -c 0``), always
  stopped at the end (context managers plus an ``atexit`` sweep).
* ``NodeLoad``: a Node script on the load core (``taskset -c 1``) that the
  benchmark steers with one JSON object per line on stdin/stdout.
* ``/proc`` readers (RSS, CPU seconds), percentile summaries, tables, JSON.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PEER_DIR = BENCH_DIR / "peer"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = RESULTS_DIR / "work"  # databases and server logs of the last run

SECRET = "bench-secret-" + "k" * 40
ISSUER = "hts-realtime"
AUDIENCE = "hts-clients"

SERVER_CORE = 0
LOAD_CORE = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")

_live: list[subprocess.Popen[bytes]] = []
# read once at import, before the orchestrator pins itself to the load core
_CPUS_AT_START = frozenset(os.sched_getaffinity(0))


# -- cores -----------------------------------------------------------------------------
def two_cores() -> bool:
    return {SERVER_CORE, LOAD_CORE} <= _CPUS_AT_START and shutil.which("taskset") is not None


def pin(core: int) -> list[str]:
    """A ``taskset`` prefix for a command, or nothing on a one-core machine."""
    return ["taskset", "-c", str(core)] if two_cores() else []


def pin_self_to_load_core() -> None:
    """The orchestrator (and the python clients it runs) live on the load core."""
    if two_cores():
        os.sched_setaffinity(0, {LOAD_CORE})


def conditions() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "server_core": SERVER_CORE if two_cores() else None,
        "load_core": LOAD_CORE if two_cores() else None,
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "python": sys.version.split()[0],
        "node": _node_version(),
    }


def _node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return "missing"


# -- /proc -----------------------------------------------------------------------------
def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (from /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuWindow:
    """CPU use of a process over a wall-clock window, in % of one core."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall0 = time.monotonic()
        self.cpu0 = cpu_seconds(pid)

    def percent(self) -> float:
        wall = time.monotonic() - self.wall0
        return 100.0 * (cpu_seconds(self.pid) - self.cpu0) / wall if wall > 0 else 0.0


async def settled_rss_kb(pid: int, settle: float = 2.0, reads: int = 3,
                         gap: float = 0.25) -> int:
    """Wait ``settle`` seconds, then the median of a few RSS reads."""
    await asyncio.sleep(settle)
    values = []
    for i in range(reads):
        if i:
            await asyncio.sleep(gap)
        values.append(rss_kb(pid))
    return sorted(values)[len(values) // 2]


# -- statistics ------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of ``values``."""
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: Iterable[float]) -> dict[str, float]:
    v = list(values)
    if not v:
        return {"n": 0}
    return {
        "n": len(v),
        "min": min(v),
        "p50": percentile(v, 50),
        "p95": percentile(v, 95),
        "p99": percentile(v, 99),
        "max": max(v),
        "mean": sum(v) / len(v),
    }


def fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def summary_row(label: str, s: dict[str, float], digits: int = 1) -> list[str]:
    return [label, fmt(int(s.get("n", 0))),
            *(fmt(s.get(k), digits) for k in ("p50", "p95", "p99", "max"))]


SUMMARY_HEADERS = ["", "n", "p50", "p95", "p99", "max"]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    line = "  ".join("-" * w for w in widths)
    for i, r in enumerate(cells):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths, strict=True))))
        if i == 0:
            print(line)
    sys.stdout.flush()


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    body = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "conditions": conditions(), **data}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def note(msg: str) -> None:
    print(f"  · {msg}", flush=True)


# -- tokens ----------------------------------------------------------------------------
def mint(sub: str = "1", name: str = "testuser", ttl: int = 3600) -> str:
    """An access token signed like the server's (the server runs with ``SECRET``)."""
    now = int(time.time())
    claims = {"sub": sub, "name": name, "roles": [], "iss": ISSUER, "aud": AUDIENCE,
              "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# -- processes -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the child if the benchmark process dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ValueError):
        _live.remove(proc)


@atexit.register
def _reap_all() -> None:
    for proc in list(_live):
        _reap(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url}: not healthy after {timeout}s:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


LOG_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|WARNING|Traceback)\b")


@dataclass
class LogReport:
    lines: int
    problems: int
    examples: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "problems": self.problems, "examples": self.examples}


class _Process:
    """A long-running server subprocess pinned to the server core."""

    kind = "process"

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.workdir = WORK_DIR / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.kind}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 30.0) -> _Process:
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        log.close()
        _live.append(self.proc)
        _wait_healthy(self.url, self.proc, self.log_path, timeout)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            _reap(self.proc)

    def log_report(self, examples: int = 5) -> LogReport:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        lines = text.splitlines()
        bad = [ln for ln in lines if LOG_PROBLEM.search(ln)]
        uniq: list[str] = []
        for ln in bad:
            short = re.sub(r"^\S+ \S+ ", "", ln)[:200]  # drop the timestamp
            if short not in uniq:
                uniq.append(short)
        return LogReport(len(lines), len(bad), uniq[:examples])

    def __enter__(self) -> _Process:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class HtsServer(_Process):
    """``python -m hts_realtime serve --demo`` with its own SQLite file."""

    kind = "hts"

    def __init__(self, name: str, **settings: str | float | int) -> None:
        super().__init__(name)
        self.database = str(self.workdir / f"hts-{self.port}.db")
        self.settings: dict[str, str] = {
            "HTS_JWT_SECRET": SECRET,
            "HTS_DATABASE": self.database,
            "HTS_MARKET_SEED": "7",
            # every bench client comes from 127.0.0.1: no per-address limits
            "HTS_MAX_CONNECTIONS_PER_ADDRESS": "0",
            "HTS_CONNECTS_PER_SECOND_PER_ADDRESS": "0",
        }
        for key, value in settings.items():
            self.settings["HTS_" + key.upper()] = str(value)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HTS_")}
        env.update(self.settings)
        return env

    def command(self) -> list[str]:
        return [*pin(SERVER_CORE), sys.executable, "-m", "hts_realtime", "serve", "--demo",
                "--port", str(self.port)]

    def add_user(self, name: str, password: str) -> None:
        """``hts-realtime user add`` against this server's database (on the load core)."""
        subprocess.run(
            [*pin(LOAD_CORE), sys.executable, "-m", "hts_realtime", "user", "add", name,
             "--password", password],
            cwd=self.workdir, env=self.env(), check=True, capture_output=True, timeout=60,
        )

    def describe(self) -> dict[str, Any]:
        return {"server": "hts_realtime (python-socketio on aiohttp)", "port": self.port,
                "settings": {k: v for k, v in self.settings.items() if k != "HTS_JWT_SECRET"}}

    def __enter__(self) -> HtsServer:
        self.start()
        return self


class PeerServer(_Process):
    """The Node socket.io 4.8 peer (``bench/peer/server.mjs``)."""

    kind = "peer"

    def __init__(self, name: str, interval: float = 1.0) -> None:
        super().__init__(name)
        self.interval = interval

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BENCH_JWT_SECRET"] = SECRET
        return env

    def command(self) -> list[str]:
        return [*pin(SERVER_CORE), "node", str(PEER_DIR / "server.mjs"),
                "--port", str(self.port), "--interval", str(self.interval)]

    def describe(self) -> dict[str, Any]:
        return {"server": "node socket.io 4.8 peer (bench/peer/server.mjs)", "port": self.port,
                "interval_seconds": self.interval}

    def __enter__(self) -> PeerServer:
        self.start()
        return self


class NodeLoad:
    """A Node script on the load core, steered by JSON lines.

    The script gets its input as one JSON argument, answers each command
    line on stdin with one JSON line on stdout, and may print progress lines
    (``{"progress": ...}``) which are skipped.
    """

    def __init__(self, script: str, args: dict[str, Any]) -> None:
        self.script = PEER_DIR / script
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_path = WORK_DIR / f"{self.script.stem}-{os.getpid()}-{id(self)}.err"

    async def __aenter__(self) -> NodeLoad:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        err = open(self.stderr_path, "wb")  # noqa: SIM115, ASYNC230 - the child keeps it
        self.proc = await asyncio.create_subprocess_exec(
            *pin(LOAD_CORE), "node", "--max-old-space-size=2048", str(self.script),
            json.dumps(self.args),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            cwd=ROOT, limit=256 * 1024 * 1024, preexec_fn=_die_with_parent,
        )
        err.close()
        return self

    async def request(self, cmd: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.reply(timeout)

    async def reply(self, timeout: float = 120.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.script.name}: no answer in {timeout}s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), remaining)
            if not line:
                err = self.stderr_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.script.name} exited: {err}")
            msg: dict[str, Any] = json.loads(line)
            if "progress" in msg:
                continue
            if "error" in msg:
                raise RuntimeError(f"{self.script.name}: {msg['error']}")
            return msg

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(OSError):
            if self.stderr_path.stat().st_size == 0:
                self.stderr_path.unlink()


async def run_node(script: str, args: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Run a one-shot Node script on the load core; its last stdout line is the result."""
    async with NodeLoad(script, args) as node:
        return await node.reply(timeout)


# -- HTTP ------------------------------------------------------------------------------
def http_json(method: str, url: str, body: Any = None,
              token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def login(base_url: str, username: str, password: str) -> str:
    status, body = http_json("POST", base_url + "/api/auth/login",
                             {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"login {username}: {status} {body}")
    return str(body["access_token"])
