"""REST CORS, from pages on other origins in a real Chromium, on one process and a gateway.

A page served from an allowed origin (``HTS_CORS_ORIGINS``) imports the SDK
from the server and logs in (a preflighted JSON POST), refreshes, reads its
account and an error body, and opens the Socket.IO stream; a page from an
origin that is not allowed cannot even log in. The preflight itself is
checked over plain HTTP too (its headers, and 403 for a stranger).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.cluster import ROLES, front
from tests.support import Server, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking"]


class Page:
    """An empty HTML page on its own loopback port: an origin of its own."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.origin = f"http://{host}:{self.port}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"<!doctype html><title>elsewhere</title><p>another origin</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[Page, Page]]:
    allowed, stranger = Page(), Page("localhost")
    yield allowed, stranger
    allowed.close()
    stranger.close()


@pytest.fixture(scope="module", params=ROLES)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        pages: tuple[Page, Page]) -> Iterator[Server]:
    role = str(request.param)
    server = front(role, tmp_path_factory.mktemp(f"cors-{role}"),
                   {"HTS_CORS_ORIGINS": pages[0].origin}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


USE_THE_API = """async (server) => {
  const { HttpClient, Stream } = await import(server + "/static/hts-client.js");
  const api = new HttpClient({ url: server });
  const login = await api.login("testuser", "testpass");
  const refreshed = await api.refresh();
  const account = await api.account();
  let missing = null;
  try { await api.order("ORD-NOPE"); } catch (e) { missing = { code: e.code, status: e.status }; }
  await new Promise((resolve, reject) => {  // a classic script: socket.io-client's global io
    const s = document.createElement("script");
    s.src = server + "/static/vendor/socket.io.min.js";
    s.onload = resolve; s.onerror = reject;
    document.head.append(s);
  });
  const stream = new Stream({ url: server, token: () => api.token,
                              socket: { transports: ["polling", "websocket"] } });
  const hello = await stream.connect();
  stream.close();
  return { user: login.username, refreshed: refreshed !== login.access_token,
           cash: account.cash, missing, hello: hello.type };
}"""

LOG_IN = """async (server) => {
  try {
    const r = await fetch(server + "/api/auth/login", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "testuser", password: "testpass" }) });
    return { status: r.status };
  } catch (e) { return { blocked: String(e) }; }
}"""


def test_a_page_on_an_allowed_origin_uses_the_api(srv: Server, browser: Browser,
                                                  pages: tuple[Page, Page]) -> None:
    page = browser.new_page()
    try:
        page.goto(pages[0].origin)
        out = page.evaluate(USE_THE_API, srv.url)
    finally:
        page.close()
    assert out["user"] == "testuser" and out["refreshed"] and out["cash"] > 0, out
    assert out["missing"] == {"code": "not_found", "status": 404}, out
    assert out["hello"] == "connected"


def test_a_page_on_another_origin_cannot_log_in(srv: Server, browser: Browser,
                                               pages: tuple[Page, Page]) -> None:
    page = browser.new_page()
    try:
        page.goto(pages[1].origin)
        out = page.evaluate(LOG_IN, srv.url)
    finally:
        page.close()
    assert "blocked" in out and "Failed to fetch" in out["blocked"], out


def test_the_preflight_over_http(srv: Server, pages: tuple[Page, Page]) -> None:
    ask = {"Origin": pages[0].origin, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    status, _, headers = srv.http("OPTIONS", "/api/auth/login", headers=ask, raw=b"")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == pages[0].origin
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
    assert headers["Vary"] == "Origin"
    status, body, headers = srv.http("OPTIONS", "/api/auth/login",
                                     headers={**ask, "Origin": pages[1].origin}, raw=b"")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert "Access-Control-Allow-Origin" not in headers
    # a throttled login's Retry-After is readable by the page
    status, body, headers = srv.http("POST", "/api/auth/login",
                                     {"username": "testuser", "password": "nope"},
                                     headers={"Origin": pages[0].origin})
    assert status == 401 and headers["Access-Control-Allow-Origin"] == pages[0].origin
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]
    # without an Origin (curl, bots) nothing changes
    status, _, headers = srv.http("GET", "/api/market")
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
