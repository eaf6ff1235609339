"""``protocol.strict_json``: what the one decoder refuses, and what the encoder never
writes (the wire tests in tests/hostile/test_strict_json.py drive it through servers)."""

from __future__ import annotations

import json
import logging
import math

import pytest

from hts_realtime.edge.socketio.packets import WirePacket
from hts_realtime.ops.error_log import InternalErrors
from hts_realtime.protocol import strict_json
from hts_realtime.protocol.strict_json import MAX_DEPTH, MAX_SAFE_INTEGER, JsonRefused, Undecodable

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("text, why", [
    ('{"a":"\\ud800"}', "surrogate"),
    ('{"\\udfff":1}', "surrogate"),
    ('["x\\uDBFFy"]', "surrogate"),
    ('{"a":NaN}', "NaN"),
    ('[Infinity]', "Infinity"),
    ('[-Infinity]', "-Infinity"),
    ("[1e999]", "double"),
    (f"[{MAX_SAFE_INTEGER + 1}]", "2^53"),
    (f"[-{MAX_SAFE_INTEGER + 1}]", "2^53"),
    ("[" + "1" * 4000 + "]", "characters"),
    ("[0." + "1" * 40 + "]", "characters"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "deeper"),
    ('{"a":' * 10_000 + "1" + "}" * 10_000, "deeper"),
    ("[" * 60_000, "deeper"),
    ("{", "not JSON"),
    ("", "not JSON"),
])
def test_refused(text: str, why: str) -> None:
    with pytest.raises(JsonRefused) as err:
        strict_json.loads(text)
    assert why in err.value.reason


@pytest.mark.parametrize("text", [
    '{"a":"\\ud83d\\ude00"}',  # a valid pair: 😀
    '{"a":"\\\\ud800"}',  # an escaped backslash, then the letters "ud800"
    '{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',  # brackets inside a string
    f"[{MAX_SAFE_INTEGER}, -{MAX_SAFE_INTEGER}, 1.5e300, -0.0]",
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    '{"name":"삼성전자"}',
])
def test_accepted_as_json_reads_it(text: str) -> None:
    assert strict_json.loads(text) == json.loads(text)


def test_bytes_must_be_utf8() -> None:
    assert strict_json.loads('{"a":"삼성"}'.encode()) == {"a": "삼성"}
    with pytest.raises(JsonRefused, match="UTF-8"):
        strict_json.loads(b'{"a":"\xff"}')


def test_dumps_never_writes_nan() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            strict_json.dumps({"x": bad})
    assert strict_json.dumps({"이름": 1}) == '{"이름":1}'


def test_a_socketio_event_with_refused_json_keeps_its_ack_id() -> None:
    pkt = WirePacket(encoded_packet='27["ping",{"timestamp":"\\ud800"}]')
    assert pkt.id == 7 and len(pkt.data) == 1 and isinstance(pkt.data[0], Undecodable)
    assert "surrogate" in pkt.data[0].reason
    assert pkt.data[0] != "<undecodable>" and pkt.data[0] == pkt.data[0]
    connect = WirePacket(encoded_packet='0{"token":NaN}')
    assert isinstance(connect.data, Undecodable)
    with pytest.raises(ValueError):  # anything else that is not JSON stays undecodable
        WirePacket(encoded_packet='3["\\ud800"]')
    assert WirePacket(encoded_packet='2["ping",{"t":1}]').data == ["ping", {"t": 1}]


def test_internal_errors_log_a_bounded_number_of_tracebacks(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    errors = InternalErrors(per_second=1.0, burst=5, clock=lambda: now[0])
    log = logging.getLogger("test.internal")
    with caplog.at_level(logging.ERROR, logger="test.internal"):
        for _ in range(1000):
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                errors.report(log, "request %s failed", "x")
        now[0] += 1.0
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            errors.report(log, "request %s failed", "x")
    assert errors.count == 1001
    assert len(caplog.records) == 6 and all(r.exc_info for r in caplog.records)
    assert "995 more since the last traceback" in caplog.records[-1].getMessage()
