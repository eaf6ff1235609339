"""The KIS wire codec and record views, alone: pure, no I/O."""

from __future__ import annotations

import json

import pytest

from hts_realtime.adapters.kis import codec, records
from hts_realtime.adapters.kis.codec import (
    TR_BOOK,
    TR_MARKET_OP,
    TR_TRADE,
    Control,
    DataFrame,
    FrameError,
    PingPong,
)
from tests.fakes.kis import FakeKis


def test_field_counts_match_the_portal_pages() -> None:
    # 실시간-003: 46 fields; 실시간-004: 59; 실시간-049: 11 (README cites the pages)
    assert len(codec.TRADE_FIELDS) == 46
    assert len(codec.BOOK_FIELDS) == 59
    assert len(codec.MARKET_OP_FIELDS) == 11
    for names in codec.FIELDS.values():
        assert len(set(names)) == len(names)


def test_a_frame_of_several_records_splits_by_the_tr_field_count() -> None:
    fake = FakeKis({"005930": 75_000})
    recs = [fake.trade_record("005930", 75_100, 10, "1"),
            fake.trade_record("005930", 75_000, 3, "5"),
            fake.trade_record("005930", 75_200, 7, "1")]
    frame = codec.decode(codec.data_frame(TR_TRADE, recs))
    assert isinstance(frame, DataFrame) and frame.tr_id == TR_TRADE
    assert len(frame.records) == 3
    ticks = [records.trade(frame, r) for r in frame.records]
    assert [(t.price, t.quantity, t.side) for t in ticks] == [
        (75_100, 10, "1"), (75_000, 3, "5"), (75_200, 7, "1")]
    assert ticks[-1].volume == 20 and ticks[-1].prev_close == 75_000
    assert ticks[0].change == 100 and ticks[1].change == 0 and ticks[1].sign == "3"


def test_signs_give_the_direction_whatever_the_magnitude_field_prints() -> None:
    fake = FakeKis({"005930": 75_000})
    rec = fake.trade_record("005930", 74_000, 1, "5")
    idx = codec.TRADE_FIELDS.index("PRDY_VRSS")
    for printed in ("-1000", "1000"):  # some feeds print the magnitude unsigned
        rec[idx] = printed
        frame = codec.decode(codec.data_frame(TR_TRADE, [rec]))
        assert isinstance(frame, DataFrame)
        t = records.trade(frame, frame.records[0])
        assert t.change == -1000 and t.prev_close == 75_000


def test_upper_and_lower_limit_signs() -> None:
    fake = FakeKis({"000660": 100_000})
    up = records.trade(*_one(codec.data_frame(TR_TRADE,
                                              [fake.trade_record("000660", 130_000, 1)])))
    down = records.trade(*_one(codec.data_frame(TR_TRADE,
                                                [fake.trade_record("000660", 70_000, 1)])))
    assert (up.sign, records.SIGN_NAMES[up.sign]) == ("1", "upper_limit")
    assert (down.sign, records.SIGN_NAMES[down.sign]) == ("4", "lower_limit")
    assert up.change == 30_000 and down.change == -30_000


def _one(raw: str) -> tuple[DataFrame, tuple[str, ...]]:
    frame = codec.decode(raw)
    assert isinstance(frame, DataFrame)
    return frame, frame.records[0]


def test_book_levels_sorted_and_empty_levels_left_out() -> None:
    fake = FakeKis({"005930": 75_000})
    fake.symbols["005930"].asks = [(75_100, 5), (75_200, 0), (75_300, 9)]
    fake.symbols["005930"].bids = [(75_000, 4)]
    fake.symbols["005930"].hour_class = "B"
    fake.symbols["005930"].expected = (75_100, 1234)
    b = records.book(*_one(codec.data_frame(TR_BOOK, [fake.book_record("005930")])))
    assert b.asks == ((75_100, 5), (75_300, 9)) and b.bids == ((75_000, 4),)
    assert b.auction and b.expected_price == 75_100 and b.expected_quantity == 1234


def test_market_operation_record() -> None:
    fake = FakeKis({"005930": 75_000})
    fake.symbols["005930"].vi = True
    op = records.market_op(*_one(codec.data_frame(TR_MARKET_OP,
                                                  [fake.market_op_record("005930", "112")])))
    assert op.vi and not op.halted and op.session_code == "112" and op.symbol == "005930"


@pytest.mark.parametrize("raw,reason", [
    ("", "empty"),
    ("hello", "garbage"),
    ("0|H0STCNT0|001", "garbage"),
    ("0|H0STCNT0|001|a^b^c", "field_count"),
    ("0|H0STCNT0|002|" + "^".join(["1"] * 46), "field_count"),  # 46 values, two records claimed
    ("0|H0STCNT0|x1|" + "^".join(["1"] * 46), "bad_count"),
    ("0|H0STCNT0|000|", "bad_count"),
    ("0|H0XXXXX0|001|a", "unknown_tr"),
    ("1|H0STCNI0|001|c2VjcmV0", "encrypted"),
    ("{not json", "garbage"),
    ('{"header": 5}', "garbage"),
    ('{"header": {"tr_id": "H0STCNT0"}}', "garbage"),
    ('[1, 2]', "garbage"),
])
def test_bad_frames_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(FrameError) as info:
        codec.decode(raw)
    assert info.value.reason == reason
    assert len(str(info.value)) < 120  # an excerpt, never the whole frame


def test_a_value_that_is_not_a_number_is_a_frame_error() -> None:
    fake = FakeKis({"005930": 75_000})
    rec = fake.trade_record("005930", 75_000, 1)
    rec[codec.TRADE_FIELDS.index("STCK_PRPR")] = "7x5"
    frame, record = _one(codec.data_frame(TR_TRADE, [rec]))
    with pytest.raises(FrameError) as info:
        records.trade(frame, record)
    assert info.value.reason == "bad_value"


def test_control_replies_and_pingpong() -> None:
    ok = codec.decode('{"header":{"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"},'
                      '"body":{"rt_cd":"0","msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS",'
                      '"output":{"iv":"0123456789abcdef","key":"' + "k" * 32 + '"}}}')
    assert ok == Control("H0STCNT0", "005930", True, "OPSP0000", "SUBSCRIBE SUCCESS")
    assert "kkkk" not in repr(ok)  # the AES key is not kept
    full = codec.decode(codec.control_reply("H0STASP0", "000660", "OPSP0008",
                                            "MAX SUBSCRIBE OVER", False))
    assert isinstance(full, Control) and not full.ok and full.code == codec.MAX_SUBSCRIBE
    in_use = codec.decode('{"header":{"tr_id":"(null)","tr_key":"","encrypt":"N"},'
                          '"body":{"rt_cd":"9","msg_cd":"OPSP8996",'
                          '"msg1":"ALREADY IN USE appkey"}}')
    assert isinstance(in_use, Control) and in_use.code == codec.APPKEY_IN_USE and not in_use.ok
    raw = '{"header":{"tr_id":"PINGPONG","datetime":"20260105093000"}}'
    assert codec.decode(raw) == PingPong(raw)


def test_subscribe_and_unsubscribe_messages() -> None:
    sub = json.loads(codec.request("KEY", TR_TRADE, "005930", True))
    assert sub == {"header": {"approval_key": "KEY", "custtype": "P", "tr_type": "1",
                              "content-type": "utf-8"},
                   "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}}}
    assert json.loads(codec.request("KEY", TR_BOOK, "005930", False))["header"]["tr_type"] == "2"
