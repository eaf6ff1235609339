"""``clients/js`` as an npm package: ``npm pack`` makes it, a fresh Node project installs the
tarball (offline: only what npm's cache already holds) and uses it against a real server,
and its type declarations compile in a project without the DOM lib."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support import ROOT, Server

JS = ROOT / "clients" / "js"
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"

USE_IT = """
import { HttpClient, Stream, MemoryStore } from "hts-client";
const url = process.argv[2];
const api = new HttpClient({ url });
const login = await api.login("testuser", "testpass");
const stream = new Stream({ url, token: () => api.token, refreshToken: () => api.refresh(),
                            store: new MemoryStore(), socket: { transports: ["websocket"] } });
const hello = await stream.connect();
const price = await stream.call("get_price", { symbol: "005930" });
stream.close();
console.log(JSON.stringify({ user: login.username, hello: hello.type, price: price.data.price }));
"""

TYPED = """
import { HttpClient, Stream, MemoryStore, type Order, type Session } from "hts-client";

export async function main(url: string): Promise<number> {
  const api = new HttpClient({ url });
  const session: Session = await api.login("testuser", "testpass");
  const stream = new Stream({ url, token: () => api.token ?? "", store: new MemoryStore(),
                              refreshToken: () => api.refresh() });
  stream.on("order_update", (m, { replayed }) => {
    const o: Order = m.data;
    void o;
    void replayed;
  });
  await stream.connect();
  const orders: Order[] = await api.orders();
  return orders.length + session.expires_in;
}
"""


def run(*args: str | Path, cwd: Path) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: these tests need Node 20+ with npm")
    out = tmp_path_factory.mktemp("pack")
    name = run(npm, "pack", "--pack-destination", out, cwd=JS).strip().splitlines()[-1]
    # the checkout is as it was: the SDK is a link to the dashboard's file again
    assert (JS / "hts-client.js").is_symlink()
    return out / name


def test_the_tarball_holds_the_sdk_and_nothing_outside_it(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = sorted(tar.getnames())
        sdk = tar.extractfile("package/hts-client.js")
        assert sdk is not None
        packed = sdk.read()
        manifest = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert names == sorted(f"package/{n}" for n in ("LICENSE", "README.md", "hts-client.js",
                                                    "index.d.mts", "index.mjs", "package.json"))
    # the same module the dashboard loads from /static/hts-client.js
    assert packed == (ROOT / "hts_realtime" / "static" / "hts-client.js").read_bytes()
    assert manifest["dependencies"] == {"socket.io-client": "^4.6.0"}
    assert "private" not in manifest and manifest["license"] == "MIT"


def test_a_fresh_project_installs_and_uses_it(tarball: Path, tmp_path: Path,
                                             server: Server) -> None:
    npm = shutil.which("npm")
    node = shutil.which("node")
    assert npm is not None and node is not None
    proj = tmp_path / "consumer"
    proj.mkdir()
    (proj / "package.json").write_text(json.dumps(
        {"name": "consumer", "version": "1.0.0", "private": True, "type": "module"}))
    # offline: socket.io-client comes from npm's cache (filled by `npm ci` in this checkout)
    run(npm, "install", "--offline", "--no-audit", "--no-fund", tarball, cwd=proj)
    installed = json.loads((proj / "node_modules" / "socket.io-client" / "package.json")
                           .read_text())["version"]
    assert installed.startswith("4.")
    (proj / "use.mjs").write_text(USE_IT)
    out = json.loads(run(node, "use.mjs", server.url, cwd=proj).strip().splitlines()[-1])
    assert out == {"user": "testuser", "hello": "connected", "price": out["price"]}
    assert out["price"] > 0

    # the declarations compile under --strict with neither the DOM lib nor @types/node
    (proj / "main.ts").write_text(TYPED)
    (proj / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
        "target": "es2022", "lib": ["es2022"], "types": [], "skipLibCheck": False},
        "files": ["main.ts"]}))
    run(node, TSC, "-p", proj, cwd=proj)
