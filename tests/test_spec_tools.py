"""The OpenAPI document through third-party tools, against a real server's own document:
``redocly lint`` (recommended rules) finds no error, and ``openapi-python-client``
generates a client whose calls work against that server (the market, a login, the
caller's account, an order)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import ROOT, Server

REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}


def document(server: Server, tmp_path: Path) -> Path:
    with urllib.request.urlopen(server.url + "/api/openapi.json", timeout=10) as r:
        path = tmp_path / "openapi.json"
        path.write_bytes(r.read())
    return path


def test_redocly_lint_finds_no_error(server: Server, tmp_path: Path) -> None:
    assert REDOCLY.exists(), "node_modules is missing @redocly/cli: run `npm ci`"
    proc = subprocess.run([str(REDOCLY), "lint", "--format=json", str(document(server, tmp_path))],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, **QUIET}, stdin=subprocess.DEVNULL)
    report = json.loads(proc.stdout)
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert report["totals"]["errors"] == 0 and not errors, json.dumps(errors, indent=1)[:4000]
    # what is left is deliberate: GET /api/ws answers 101 (an upgrade), not a 2XX
    rules = {(p["ruleId"], p["location"][0]["pointer"]) for p in report["problems"]}
    assert rules <= {("operation-2xx-response", "#/paths/~1api~1ws/get/responses")}, rules


def test_a_generated_python_client_works(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "hts_generated"
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(GENERATOR), "generate", "--path", str(document(server, tmp_path)),
                           "--output-path", str(out), "--meta", "none"],
                          capture_output=True, text=True, timeout=300, env=env,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and "Warning" not in proc.stdout + proc.stderr, \
        proc.stdout + proc.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        gen: Any = importlib.import_module("hts_generated")
        api: Any = importlib.import_module("hts_generated.api.default")
        models: Any = importlib.import_module("hts_generated.models")
        for name in ("get_market", "post_auth_login", "get_account", "post_orders",
                     "get_symbols"):
            importlib.import_module(f"hts_generated.api.default.{name}")
        client = gen.Client(base_url=server.url)
        market = api.get_market.sync(client=client)
        assert isinstance(market, models.Market) and market.status.value == "open"
        assert len(api.get_symbols.sync(client=client)) > 0
        login = api.post_auth_login.sync(
            client=client, body=models.LoginSchema(username="testuser", password="testpass"))
        assert isinstance(login, models.Login) and login.refresh_token
        authed = gen.AuthenticatedClient(base_url=server.url, token=login.access_token)
        account = api.get_account.sync(client=authed)
        assert isinstance(account, models.Account) and account.cash > 0
        order = api.post_orders.sync(client=authed, body=models.OrderSchema(
            symbol="005930", side=models.OrderSchemaSide.BUY, quantity=1,
            order_type=models.OrderSchemaOrderType.MARKET))
        assert isinstance(order, models.Order) and order.symbol == "005930"
        refused = api.get_account.sync(client=gen.AuthenticatedClient(base_url=server.url,
                                                                       token="nope"))
        assert isinstance(refused, models.Error) and refused.error.code == "auth_failed"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("hts_generated")]:
            del sys.modules[name]
