"""The package as a user gets it: sdist and wheel from a clean tree, installed
outside the checkout, serving a dashboard that shows live prices in Chromium.

The tree is what ``git clone`` gives (tracked and new, not ignored, files: no
``node_modules``, no ``.venv``), built with ``python -m build`` (sdist, then the
wheel from that sdist) by the build backend ``pyproject.toml`` pins. The wheel
goes into a fresh virtualenv in a temporary directory; its dependencies come
from this checkout's ``.venv`` (same pins, saves a minute of downloads), but
``hts_realtime`` itself is imported from the installed wheel, which the test
checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.support import ROOT, free_port
from tests.test_dashboard import CHROMIUM, CHROMIUM_ARGS, PRICE, WAIT_MS

VENDOR = ROOT / "hts_realtime" / "static" / "vendor"
NPM_DIST = ROOT / "node_modules" / "socket.io-client"


def pinned_npm_version(package: str) -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def test_vendored_socketio_is_the_pinned_npm_build() -> None:
    version = pinned_npm_version("socket.io-client")
    vendored = (VENDOR / "socket.io.min.js").read_bytes()
    assert re.search(rb"Socket\.IO v(\S+)", vendored[:200])[1].decode() == version  # type: ignore[index]
    assert f"| {version} |" in (VENDOR / "README.md").read_text()
    # `make vendor` copies it from the pinned package; a bump must refresh the copy
    assert vendored == (NPM_DIST / "dist" / "socket.io.min.js").read_bytes(), "run `make vendor`"
    assert (VENDOR / "socket.io.LICENSE").read_bytes() == (NPM_DIST / "LICENSE").read_bytes()


def clean_tree(dest: Path) -> Path:
    """The checkout as a fresh clone would have it (including uncommitted work)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = clean_tree(tmp_path_factory.mktemp("clone"))
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the test extras pin the same setuptools as pyproject.toml
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                            str(tree)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    noise = [line for line in (build.stdout + build.stderr).splitlines()
             if re.search(r"warn", line, re.I) and "byte-compiling is disabled" not in line]
    assert noise == [], "the build warns:\n" + "\n".join(noise)
    (sdist,) = out.glob("*.tar.gz")
    (whl,) = out.glob("*.whl")
    with zipfile.ZipFile(whl) as z:
        shipped = set(z.namelist())
    served = {f"hts_realtime/static/{p.relative_to(ROOT / 'hts_realtime' / 'static')}"
              for p in (ROOT / "hts_realtime" / "static").rglob("*") if p.is_file()}
    assert served <= shipped, f"not in the wheel: {sorted(served - shipped)}"
    listing = subprocess.run(["tar", "tzf", str(sdist)], capture_output=True, text=True,
                             check=True).stdout
    assert "hts_realtime/static/vendor/socket.io.min.js" in listing
    assert "hts_realtime/static/vendor/socket.io.LICENSE" in listing
    # all tests or none: none (they need the whole repository), and the license
    names = listing.splitlines()
    assert not [n for n in names if "/tests/" in n], "the sdist carries tests"
    assert any(n.endswith("-0.1.0/LICENSE") for n in names), names
    with zipfile.ZipFile(whl) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta).decode()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in z.namelist())
    assert "License-File: LICENSE" in metadata and "Classifier: Typing :: Typed" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    # lower bounds only (constraints.txt pins the tested set for `make install`)
    assert requires and not [r for r in requires if "<" in r.split(";")[0]], requires
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    probe = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", probe],
                               capture_output=True, text=True, check=True).stdout.strip())
    # dependencies: this checkout's venv, appended after the new venv's own site-packages
    (site / "deps-from-checkout.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    return venv


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HTS_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed / 'bin'}:{env.get('PATH', '')}"
    probe = "import hts_realtime; print(hts_realtime.__file__)"
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", probe], cwd=tmp_path, env=env,
        capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(installed)), f"imported from {where}, not the wheel"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(installed / "bin" / "hts-realtime"), "serve", "--demo", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
    assert "WARNING" not in log.read_text(), log.read_text()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_installed_wheel_serves_a_live_dashboard(served: str, browser: Browser) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served + "/")
    page.get_by_test_id("login-username").fill("testuser")
    page.get_by_test_id("login-password").fill("testpass")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "connected",
                                                                timeout=WAIT_MS)
    row = page.locator('[data-testid=watch-row][data-symbol="005930"]')
    expect(row.get_by_test_id("watch-price")).to_have_text(PRICE, timeout=WAIT_MS)
    expect(row).to_have_attribute("data-updates", re.compile(r"^[1-9]\d*$"), timeout=WAIT_MS)
    assert errors == []


def test_the_python_sdk_builds_as_a_typed_wheel(tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel",
                            "--outdir", str(tmp_path), str(ROOT / "clients" / "python")],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    (whl,) = tmp_path.glob("hts_client-*.whl")
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {"hts_client/py.typed", "hts_client/stream.py", "hts_client/http.py"} <= names
    assert "Name: hts-client" in metadata
    assert "Requires-Dist: python-socketio[asyncio-client]" in metadata.replace("_", "-")
    assert not any(n.startswith("hts_realtime/") for n in names)
