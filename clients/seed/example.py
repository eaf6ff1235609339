# The seed's Python example (design doc, section 5 "Python 예제"), as it stands.
# Only the server and the token are configurable: HTS_URL (http://127.0.0.1:8000; or
# HTS_HOST and HTS_PORT), HTS_TOKEN (get a token with `hts-realtime token testuser --demo` or POST /api/auth/login).
#
# Like the seed's snippet it uses `async with` / `await` at the top level, as
# typed into Python's asyncio REPL; run it with:
#     HTS_TOKEN=... python -m clients.seed clients/seed/example.py
import os

access_token = os.environ["HTS_TOKEN"]
HOST = os.environ.get("HTS_HOST", "localhost")
PORT = os.environ.get("HTS_PORT", "8000")
BASE = os.environ.get("HTS_URL", f"http://{HOST}:{PORT}").rstrip("/")

# ---- the seed, unchanged but for the host and port in `uri` ----
import websockets
import json

uri = f"{BASE.replace('http', 'ws', 1)}/api/ws?token={access_token}"

async with websockets.connect(uri) as websocket:
    # 시세 구독
    await websocket.send(json.dumps({
        "type": "subscribe",
        "topic": "price:005930"
    }))
    
    # 메시지 수신
    while True:
        message = await websocket.recv()
        data = json.loads(message)
        print(data)
