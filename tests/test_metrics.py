"""GET /metrics (Prometheus text format), HTS_METRICS_PORT and GET /readyz."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from hts_realtime import __version__
from hts_realtime.ops.readiness import Readiness
from tests.support import ROOT, Client, Server, free_port
from tests.trading import place, wait_order

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=")
        text = r.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_move_with_traffic(make_server: Callable[..., Server],
                                         clients: Callable[[], Client]) -> None:
    metrics_port = free_port()
    server = make_server({"HTS_METRICS_PORT": str(metrics_port)}).start()
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    tok = server.add_user("metered")
    before = scrape(url)
    assert value(before, "hts_connections", transport="websocket") == 0
    assert value(before, "hts_slow_consumer_disconnects_total") == 0

    c = await clients().connect(server.url, auth={"token": tok,
                                                  "topics": ["price:005930", "order:*"]})
    (hello,) = await c.wait_for("connected")
    for _ in range(3):
        assert (await c.call("ping", {}))["ok"]
    assert not (await c.call("no_such_event", {}))["ok"]
    assert not (await c.call("subscribe", {"topic": "price:NOPE"}))["ok"]
    assert server.http("GET", "/api/orders/nope", token=tok)[0] == 404
    assert server.http("GET", "/api/account")[0] == 401
    first = place(server, tok, quantity=3)
    wait_order(server, tok, first["order_id"], {"filled"})
    await c.wait_for("price_update", 2)
    # every order_update of the filled order has reached the client before we scrape
    for _ in range(400):
        if any(u["data"]["status"] == "filled" for u in c.events["order_update"]):
            break
        await asyncio.sleep(0.05)
    mid = scrape(url)

    assert value(mid, "hts_connections", transport="websocket") == 1
    assert value(mid, "hts_connections_opened_total", transport="socketio") == 1
    assert value(mid, "hts_subscriptions", kind="price") == 1
    assert value(mid, "hts_subscriptions", kind="order:*") == 1
    assert moved(before, mid, "hts_messages_sent_total", event="connected") == 1
    assert moved(before, mid, "hts_messages_sent_total", event="pong") == 3
    assert moved(before, mid, "hts_messages_sent_total", event="error") == 2
    assert moved(before, mid, "hts_messages_sent_total", event="order_update") == len(
        c.events["order_update"])
    assert moved(before, mid, "hts_messages_sent_total", event="price_update") >= len(
        c.events["price_update"])
    assert moved(before, mid, "hts_request_errors_total", api="socketio",
                 code="unknown_event") == 1
    assert moved(before, mid, "hts_request_errors_total", api="socketio",
                 code="unknown_symbol") == 1
    assert moved(before, mid, "hts_request_errors_total", api="http", code="not_found") == 1
    assert moved(before, mid, "hts_request_errors_total", api="http", code="auth_required") == 1
    assert moved(before, mid, "hts_order_accept_seconds_count") == 1
    assert moved(before, mid, "hts_order_fill_seconds_count") == 1
    assert moved(before, mid, "hts_private_delivery_lag_seconds_count") == len(
        c.events["order_update"])
    # the market trades every 0.1 s and prices go out once a second: the rest is conflated
    assert moved(before, mid, "hts_price_updates_conflated_total", stage="tick") > 0
    assert value(mid, "hts_event_loop_lag_seconds_count") > 0
    assert value(mid, "hts_open_orders") == 0

    # a resume replays exactly what was missed, and the replay size is observed
    last_seq = max(u["seq"] for u in c.events["order_update"])
    assert last_seq > hello["last_seq"]
    await c.disconnect()
    second = place(server, tok, quantity=2)
    wait_order(server, tok, second["order_id"], {"filled"})
    back = await clients().connect(server.url, auth={"token": tok, "topics": ["order:*"],
                                                     "last_seq": last_seq})
    (again,) = await back.wait_for("connected")
    missed = again["last_seq"] - last_seq
    await back.wait_for("order_update", missed)
    after = scrape(url)
    assert missed >= 2
    assert moved(mid, after, "hts_replay_events_count") == 1
    assert moved(mid, after, "hts_replay_events_sum") == missed
    assert moved(mid, after, "hts_order_accept_seconds_count") == 1
    assert value(after, "hts_connections", transport="websocket") == 1
    assert value(after, "hts_subscriptions", kind="price") == 0

    # the same numbers on the main port, for an admin only
    admin = server.login("admin", "adminpass")
    status, body, _ = server.http("GET", "/metrics")
    assert status == 401 and body["error"]["code"] == "auth_required"
    status, body, _ = server.http("GET", "/metrics", token=tok)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert value(scrape(server.url + "/metrics", admin), "hts_connections_opened_total",
                 transport="socketio") == 2


async def test_strategies_running_gauge(server: Server, token: str) -> None:
    admin = server.login("admin", "adminpass")
    before = value(scrape(server.url + "/metrics", admin), "hts_strategies_running")
    status, run, _ = server.http("POST", "/api/strategies", {
        "kind": "ma_crossover", "symbol": "005930", "quantity": 1}, token=token)
    assert status == 201, run
    assert server.http("POST", f"/api/strategies/{run['strategy_id']}/start", token=token)[0] == 200
    assert value(scrape(server.url + "/metrics", admin), "hts_strategies_running") == before + 1
    assert server.http("DELETE", f"/api/strategies/{run['strategy_id']}", token=token)[0] == 204
    assert value(scrape(server.url + "/metrics", admin), "hts_strategies_running") == before


def test_readyz_reports_each_check(server: Server) -> None:
    status, body, _ = server.http("GET", "/readyz")
    assert status == 200, body
    assert body == {"status": "ready", "checks": {"database": "ok", "market_feed": "ok"}}


def test_metrics_port_serves_only_metrics(make_server: Callable[..., Server]) -> None:
    port = free_port()
    make_server({"HTS_METRICS_PORT": str(port)}).start()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/symbols", timeout=5)
        raise AssertionError("the metrics port served the API")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


async def test_readiness_fails_on_a_failing_or_hanging_check() -> None:
    """What a registered check (e.g. scale-out's Redis ping) turns into."""
    r = Readiness(timeout=0.2)

    async def ok() -> str | None:
        return None

    async def down() -> str | None:
        raise ConnectionError("connection refused")

    async def hangs() -> str | None:
        await asyncio.sleep(10)
        return None

    r.add("database", ok)
    assert await r.report() == (True, {"database": "ok"})
    r.add("redis", down)
    r.add("feed", hangs)
    ready, checks = await r.report()
    assert not ready
    assert checks == {"database": "ok", "redis": "ConnectionError: connection refused",
                      "feed": "no answer within 0.2s"}


GRAFANA = ROOT / "deploy" / "grafana" / "hts-realtime.json"
# a PromQL identifier that is a metric (functions and label names are followed by "(" or
# sit inside {...} / by (...), which the regex's context excludes)
METRIC_NAME = re.compile(r"\b((?:hts|process|python)_[a-z0-9_]+)\b")


def test_operator_metrics_and_the_grafana_dashboard(server: Server) -> None:
    """Process, GC, build, per-route HTTP, refusal counters; one meaning per label value;
    and every query of deploy/grafana/hts-realtime.json names a metric this server exports."""
    admin = server.login("admin", "adminpass")
    order = place(server, admin, quantity=1)
    server.http("GET", f"/api/orders/{order['order_id']}", token=admin)
    server.http("GET", "/api/orders/ORD-NOPE", token=admin)
    server.http("GET", "/no/such/path")
    server.http("POST", "/api/auth/login", {"username": "testuser", "password": "wrong"})
    samples = scrape(server.url + "/metrics", admin)
    names = {name for name, _ in samples}
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "python_gc_collections_total", "python_info", "hts_outbox_backlog",
                 "hts_connections_behind"):
        assert name in names, name
    builds = [dict(labels) for name, labels in samples if name == "hts_build_info"]
    assert builds and builds[0]["version"] == __version__
    route = "/api/orders/{order_id}"
    assert value(samples, "hts_http_requests_total", method="GET", route=route,
                 status="200") >= 1
    assert value(samples, "hts_http_requests_total", method="GET", route=route,
                 status="404") >= 1
    assert value(samples, "hts_http_requests_total", method="GET", route="unmatched",
                 status="404") >= 1
    assert value(samples, "hts_http_request_duration_seconds_count", method="POST",
                 route="/api/orders") >= 1
    routes = {dict(labels)["route"] for name, labels in samples
              if name == "hts_http_requests_total"}
    assert not any("ORD" in r for r in routes), routes  # templates, never ids
    for reason in ("throttled", "busy"):
        assert ("hts_login_refusals_total", (("reason", reason),)) in samples
    assert ("hts_wire_refused_total", (("reason", "per_address_limit"),)) in samples
    # transport="websocket" means one thing: Socket.IO over websocket (hts_connections)
    framings = {dict(labels).get("transport") for name, labels in samples
                if name == "hts_connections_opened_total"}
    assert "websocket" not in framings, framings

    dashboard = json.loads(GRAFANA.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 20
    text = urllib.request.urlopen(urllib.request.Request(
        server.url + "/metrics", headers={"Authorization": f"Bearer {admin}"}),
        timeout=10).read().decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    exported = set(names)
    for family, kind in families.items():
        exported |= {family + s for s in {"counter": ("_total",),
                                           "histogram": ("_bucket", "_sum", "_count")}
                     .get(kind, ("",))}
    unknown = sorted({m for e in exprs for m in METRIC_NAME.findall(e)} - exported)
    assert unknown == [], f"the dashboard queries metrics the server does not export: {unknown}"
