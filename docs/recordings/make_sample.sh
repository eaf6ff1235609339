#!/bin/sh
# Regenerates sample.jsonl.gz: 60 s of the KIS adapter's output while the fake KIS
# server (tests/fakes/kis.py) plays its seeded random tape (seed 7, 4 rounds a second)
# for five symbols. The prices are SYNTHETIC (a random walk on the tick grid inside
# the daily band), not market data; everything after the WebSocket — the approval
# key, registrations, multi-record frames, the KIS adapter, the market-feed clock and
# the recorder — is the real code path. Run from the repository root after `make install`.
set -eu
PORT=${PORT:-18799}
OUT=${OUT:-docs/recordings/sample.jsonl.gz}
.venv/bin/python -m tests.fakes.kis --port "$PORT" --tape-seconds 62 --tape-rate 4 --seed 7 &
FAKE=$!
trap 'kill $FAKE 2>/dev/null' EXIT
sleep 1
HTS_FEED=kis \
HTS_KIS_APP_KEY=PSFAKEappkey0000000000000000000000001 \
HTS_KIS_APP_SECRET="fake-secret-$(printf 's%.0s' $(seq 168))" \
HTS_KIS_REST_URL="http://127.0.0.1:$PORT" HTS_KIS_WS_URL="ws://127.0.0.1:$PORT" \
HTS_MARKET_TICK_SECONDS=0.25 \
  .venv/bin/hts-realtime feed record --out "$OUT" --seconds 60 \
  --symbols 005930,000660,035420,005380,068270
