"""The Admin UI's tap: bounded in rate and size, silent while nobody watches; and what
the Admin UI redacts before an admin sees it."""

from __future__ import annotations

from hts_realtime.edge.admin_tap import AdminTap
from hts_realtime.edge.outbox import Message
from hts_realtime.edge.socketio.admin import REDACTED, redact


def test_nothing_is_recorded_while_no_admin_watches() -> None:
    tap = AdminTap(per_second=100)
    tap.sent("eio", [Message("price_update", {"symbol": "005930"})])
    tap.joined("sid", "price:005930")
    assert tap.drain() == [] and tap.tapped == 0


def test_events_and_rooms_are_recorded_in_order() -> None:
    tap = AdminTap(per_second=100)
    tap.watching = True
    tap.joined("sid", "price:005930")
    tap.sent("eio", [Message("price_update", {"price": 1}), Message("", None)])  # a library packet
    tap.left("sid", "price:005930")
    items = tap.drain()
    assert [(i.kind, i.sid, i.what) for i in items] == [
        ("joined", "sid", "price:005930"), ("sent", "eio", "price_update"),
        ("left", "sid", "price:005930")]
    assert items[1].payload_json == '{"price":1}' and tap.drain() == []


def test_the_rate_bounds_what_is_recorded_and_counts_the_rest() -> None:
    tap = AdminTap(per_second=10)
    tap.watching = True
    tap.sent("eio", [Message("price_update", {"i": i}) for i in range(1000)])
    assert 10 <= len(tap.drain()) <= 11
    assert tap.dropped >= 989 and tap.tapped + tap.dropped == 1000


def test_the_queue_is_bounded_when_nobody_drains_it() -> None:
    tap = AdminTap(per_second=1e9, capacity=50)
    tap.watching = True
    for i in range(10):
        tap.sent("eio", [Message("e", {"i": j}) for j in range(100 * i, 100 * i + 100)])
    items = tap.drain()
    assert len(items) == 50 and items[-1].payload_json == '{"i":999}'  # the newest kept


def test_secrets_are_redacted_at_any_depth() -> None:
    shown = redact({"token": "t", "nested": [{"Password": "p", "keep": 1}],
                    "refresh_token": "r", "auth": {"token": "x"}})
    assert shown == {"token": REDACTED, "nested": [{"Password": REDACTED, "keep": 1}],
                     "refresh_token": REDACTED, "auth": REDACTED}
    deep: object = "leaf"
    for _ in range(50):
        deep = [deep]
    assert "leaf" not in repr(redact(deep))
