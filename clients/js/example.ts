// Type-checked usage of the SDK's declarations (index.d.mts): `npx tsc -p clients/js`
// (tests/test_node_client.py runs it). Not run; it only has to compile under --strict.
import {
  HtsError, HttpClient, LocalStorageStore, MemoryStore, Stream,
  type Account, type Order, type OrderUpdate, type SeqStore, type StreamState,
} from "./index.mjs";

export async function example(storage: Storage): Promise<void> {
  const api = new HttpClient({ url: "http://127.0.0.1:8000" });
  const session = await api.login("testuser", "testpass");
  const ttl: number = session.expires_in;
  const store: SeqStore = ttl > 0 ? new MemoryStore() : new LocalStorageStore("hts.last_seq", storage);
  let orders: Order[] = await api.orders({ status: "accepted" });

  const stream = new Stream({
    url: api.url,
    token: () => api.token ?? "",
    topics: ["price:005930", "order:*"],
    store,
    onResync: async (msg) => { orders = await api.orders(); console.log(msg.last_seq); },
    onRefused: (err: HtsError) => console.warn(err.code),
    socket: { transports: ["websocket"] },
  });
  stream.on("state", (state: StreamState, { attempt }) => console.log(state, attempt));
  stream.on("price_update", (m) => console.log(m.symbol, m.data.price.toFixed(0)));
  stream.on("orderbook_update", (m) => console.log(m.data.asks[0]?.price, m.data.bids[0]?.quantity));
  stream.on("trade_update", (m) => m.data.trades.forEach((t) => console.log(t.side, t.price)));
  stream.on("order_update", (m: OrderUpdate, { replayed }) => {
    orders = orders.filter((o) => o.order_id !== m.data.order_id).concat(m.data);
    console.log(m.seq, m.data.status, replayed);
  });
  stream.on("strategy_signal", (m) => console.log(m.strategy_id, m.data.signal, m.data.price));
  const hello = await stream.connect();
  console.log(hello.last_seq, stream.lastSeq, stream.stats.resumes);
  await stream.subscribe(["price:000660"]);
  const ack = await stream.call("get_price", { symbol: "005930" });
  console.log(ack.ok);
  try {
    const placed: Order = await api.placeOrder({ symbol: "005930", side: "buy", quantity: 1, order_type: "market" });
    await api.cancelOrder(placed.order_id);
  } catch (err) {
    if (err instanceof HtsError) console.log(err.code, err.status);
  }
  const account: Account = await api.account();
  const { symbols } = await api.setWatchlist(["005930", ...(await api.watchlist()).symbols]);
  const { candles } = await api.candles("005930", { interval: "5m", limit: 10 });
  const { signals } = await api.strategySignals("S1", { limit: 5 });
  console.log(account.available_cash, symbols.length, candles[0]?.close, signals[0]?.reason, orders.length);
  stream.close();
}
