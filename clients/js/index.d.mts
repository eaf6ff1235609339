// Type declarations for hts-client (index.mjs in Node, /static/hts-client.js in the browser).
// Wire shapes follow the README's event and route tables; integers are KRW / shares.

export declare const PRIVATE_EVENTS: readonly ["order_update", "strategy_signal", "strategy_status"];
export declare const AUTH_CODES: readonly ["auth_required", "auth_failed", "token_expired", "auth_revoked"];
export declare const SERVER_EVENTS: readonly string[];

/** A server error code (see the README's error table) or the SDK's own: offline, timeout, network_error. */
export declare class HtsError extends Error {
  constructor(code: string, message?: string, status?: number);
  readonly code: string;
  /** The HTTP status, 0 for a socket or client-side error. */
  readonly status: number;
}

/** Where a Stream keeps last_seq. `get()` returns null when nothing is stored. */
export interface SeqStore {
  get(): number | null;
  set(seq: number): void;
  clear(): void;
}
export declare class MemoryStore implements SeqStore {
  constructor(initial?: number | null);
  get(): number | null;
  set(seq: number): void;
  clear(): void;
}
/** What LocalStorageStore needs of Web Storage (localStorage and sessionStorage have it). */
export interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}
/** Web Storage (localStorage by default; pass sessionStorage for a per-tab cursor). */
export declare class LocalStorageStore implements SeqStore {
  constructor(key?: string, storage?: WebStorage);
  get(): number | null;
  set(seq: number): void;
  clear(): void;
}

export declare function newKey(): string;

// -- wire shapes ---------------------------------------------------------------------

export type Side = "buy" | "sell";
export type OrderType = "market" | "limit";
export type OrderStatus = "accepted" | "partially_filled" | "filled" | "cancelled" | "rejected" | "replaced" | "expired";

/** 미체결 (open), 체결 (filled: any fill) or 전체 (all). */
export type OrderView = "open" | "filled" | "all";
export interface OrdersQuery {
  view?: OrderView; day?: string; status?: OrderStatus; cursor?: string; limit?: number;
}
/** One page of GET /api/orders; next_cursor is the X-Next-Cursor header (null: the last). */
export interface OrderPage { orders: Order[]; next_cursor: string | null }

export interface Session {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  /** Spent by POST /api/auth/refresh (HttpClient.refresh), once: the answer has the next. */
  refresh_token: string;
  refresh_expires_in: number;
  user_id: string;
  username: string;
}
export interface SymbolInfo { symbol: string; name: string; market: string; prev_close: number }
export interface Order {
  order_id: string; symbol: string; side: Side; order_type: OrderType; quantity: number;
  price: number | null; status: OrderStatus; filled_quantity: number; filled_price: number | null;
  remaining_quantity: number; last_fill_price: number | null; last_fill_quantity: number;
  reason: string | null; strategy_id: string | null; client_order_id: string | null; created_at: string; updated_at: string;
  fees?: number;
  /** 원주문번호: the order this one amends (정정); null otherwise. */
  original_order_id?: string | null;
  /** The order that amends this one (status "replaced"); null otherwise. */
  replaced_by?: string | null;
}
export interface OrderRequest {
  symbol: string; side: Side; order_type?: OrderType; quantity: number; price?: number | null;
  /** Your own id (1-64 characters), echoed on the order and on its order_update events. */
  client_order_id?: string | null;
}
export interface Fill { fill_id: number; quantity: number; price: number; amount: number; time: string; fee?: number; tax?: number }
export interface Position {
  symbol: string; name: string; quantity: number; available_quantity: number; avg_price: number;
  cost: number; market_price: number; market_value: number; unrealized_pnl: number;
}
export interface Account {
  account_id: string; cash: number; reserved_cash: number; available_cash: number;
  positions: Position[]; market_value: number; unrealized_pnl: number; realized_pnl: number;
  total_value: number; fees_paid?: number; taxes_paid?: number;
}
export interface Strategy {
  strategy_id: string; kind: string; symbol: string; params: Record<string, number>;
  quantity: number; auto_trade: boolean; state: string; reason: string | null; position: number;
  realized_pnl: number; unrealized_pnl: number; signals: number; created_at: string; updated_at: string;
  [key: string]: unknown;
}
export interface StrategySpec {
  kind: string; symbol: string; quantity: number; params?: Record<string, number>; auto_trade?: boolean;
}
export interface Signal { signal: Side; symbol: string; quantity: number; reason: string; price: number; timestamp: string }
export interface Candle { time: string; open: number; high: number; low: number; close: number; volume: number }
export type Interval = "1m" | "5m" | "1h" | "1d";
export interface MarketState { status: "pre_open" | "open" | "closing_auction" | "closed"; mode: string; timestamp: string }

export interface PriceUpdate {
  type: "price_update"; symbol: string;
  data: { price: number; change: number; change_percent: number; volume: number; timestamp: string };
}
export interface BookLevel { price: number; quantity: number }
export interface OrderBook {
  asks: BookLevel[]; bids: BookLevel[]; total_ask_quantity: number; total_bid_quantity: number;
  last_price: number; timestamp: string;
}
export interface OrderbookUpdate { type: "orderbook_update"; symbol: string; data: OrderBook }
export interface Trade { price: number; quantity: number; side: Side; volume: number; timestamp: string }
export interface TradeUpdate { type: "trade_update"; symbol: string; data: { trades: Trade[] } }
export interface MarketStatus { type: "market_status"; status: MarketState["status"]; timestamp: string }
export interface OrderUpdate { type: "order_update"; seq: number; data: Order }
export interface StrategySignal { type: "strategy_signal"; seq: number; strategy_id: string; data: Signal }
export interface StrategyStatus {
  type: "strategy_status"; seq: number; strategy_id: string;
  data: { state: string; position: number; realized_pnl: number; unrealized_pnl: number; updated_at: string;
    symbol: string; kind: string; last_price: number | null; reason: string | null };
}
export interface Connected {
  type: "connected"; message: string; user_id: string; session_id: string; last_seq: number;
  topics: string[]; market_status?: MarketState["status"];
}
export interface ResyncRequired { type: "resync_required"; code: "resync_required"; last_seq: number }
export interface TokenExpiring { type: "token_expiring"; expires_at: number; expires_in: number; message: string }
export interface Renewed { type: "renewed"; user_id: string; expires_at: number }
export interface ServerError { type: "error"; event?: string; code: string; message: string }
export interface Ack { ok: true; [key: string]: unknown }

// -- HTTP ----------------------------------------------------------------------------

/** What HttpClient needs of fetch() (the global one in browsers and Node 18+). */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}
export type FetchLike = (url: string, init: {
  method: string; headers: Record<string, string>; body?: string; cache?: string;
}) => Promise<FetchResponseLike>;

export interface HttpClientOptions {
  /** The server, e.g. "http://127.0.0.1:8000"; "" (default) is the page's own origin. */
  url?: string;
  token?: string | null;
  fetch?: FetchLike;
}
export interface RequestOptions {
  body?: unknown; headers?: Record<string, string>; query?: Record<string, unknown>;
  /** resolve to {data, headers} instead of the body */
  withHeaders?: boolean;
}

export declare class HttpClient {
  constructor(opts?: HttpClientOptions);
  url: string;
  token: string | null;
  /** The refresh token of the latest login or refresh (spent by refresh()). */
  refreshToken: string | null;
  /** Date.now() of the access token's expiry. */
  tokenExpiresAt: number | null;
  /** POST /api/auth/refresh, one at a time; resolves to the new access token. */
  refresh(): Promise<string>;
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  login(username: string, password: string): Promise<Session>;
  /** POST /api/auth/logout: revoke this token (or all of the user's with everywhere). */
  logout(opts?: { everywhere?: boolean }): Promise<void>;
  symbols(): Promise<SymbolInfo[]>;
  market(): Promise<MarketState>;
  /** The cost rates as decimal strings (exact): a buy holds price + ceil(price × fee rate) per share. */
  costs(): Promise<{ brokerage_fee_rate: string; sell_tax_rates: Record<string, string> }>;
  candles(symbol: string, opts?: { interval?: Interval; limit?: number }): Promise<{ symbol: string; interval: Interval; candles: Candle[] }>;
  /** GET /api/trades: the symbol's last trades (체결), oldest first, with 전일 종가. */
  trades(symbol: string, opts?: { limit?: number }): Promise<{ symbol: string; prev_close: number | null; trades: Trade[] }>;
  account(): Promise<Account>;
  /** GET /api/orders, newest first (the newest 500 of every day unless asked otherwise). */
  orders(opts?: OrdersQuery): Promise<Order[]>;
  /** One page and where the next starts (see the README's HTTP API). */
  ordersPage(opts?: OrdersQuery): Promise<OrderPage>;
  order(id: string): Promise<Order>;
  fills(id: string): Promise<Fill[]>;
  placeOrder(order: OrderRequest, opts?: { idempotencyKey?: string }): Promise<Order>;
  cancelOrder(id: string): Promise<Order>;
  /** POST /api/orders/{id}/amend (정정): resolves to the new order; safe to retry. */
  amendOrder(id: string, change: { price?: number; quantity?: number },
             opts?: { idempotencyKey?: string }): Promise<Order>;
  strategyKinds(): Promise<Record<string, Record<string, number>>>;
  strategies(): Promise<Strategy[]>;
  strategy(id: string): Promise<Strategy>;
  createStrategy(spec: StrategySpec): Promise<Strategy>;
  startStrategy(id: string): Promise<Strategy>;
  stopStrategy(id: string): Promise<Strategy>;
  deleteStrategy(id: string): Promise<null>;
  strategySignals(id: string, opts?: { limit?: number }): Promise<{ strategy_id: string; signals: Signal[] }>;
  watchlist(): Promise<{ symbols: string[] }>;
  setWatchlist(symbols: string[]): Promise<{ symbols: string[] }>;
}

// -- the stream ----------------------------------------------------------------------

export type StreamState = "idle" | "connecting" | "connected" | "reconnecting" | "offline" | "closed";

export interface StreamOptions {
  url?: string;
  /** A token, or a function asked before every handshake (may refresh it). */
  token?: string | (() => string | Promise<string>);
  topics?: Iterable<string>;
  store?: SeqStore;
  /** Called on resync_required: refetch over HTTP. Private events wait until it settles. */
  onResync?: (msg: ResyncRequired) => unknown | Promise<unknown>;
  /** A handshake refused over a topic (e.g. not_found): fix `stream.topics`; the stream retries. */
  onRefused?: (err: HtsError) => unknown | Promise<unknown>;
  /** socket.io-client's io(); Node's index.mjs supplies it, the browser uses its global. */
  io?: (...args: any[]) => any;
  /** Extra socket.io-client options (transports, reconnectionDelay, ...). */
  socket?: Record<string, unknown>;
  watchNetwork?: boolean;
  /** Ask the server for one price_batch per tick (auth.batch); handlers still get price_update. */
  batchPrices?: boolean;
  maxRefusals?: number;
  /** A fresh access token (e.g. `() => api.refresh()`): sent with `renew` at token_expiring. */
  refreshToken?: () => Promise<string>;
}

/** Passed as the second argument to private-event handlers. */
export interface DeliveryInfo { replayed: boolean }

export interface StreamEvents {
  state: (state: StreamState, detail: { reason?: string; attempt?: number }) => void;
  connected: (msg: Connected, info: { resumed: boolean }) => void;
  resync: (msg: ResyncRequired) => void;
  refused: (err: HtsError) => void;
  error: (msg: ServerError) => void;
  price_update: (msg: PriceUpdate) => void;
  orderbook_update: (msg: OrderbookUpdate) => void;
  trade_update: (msg: TradeUpdate) => void;
  market_status: (msg: MarketStatus) => void;
  token_expiring: (msg: TokenExpiring) => void;
  renewed: (msg: Renewed) => void;
  order_update: (msg: OrderUpdate, info: DeliveryInfo) => void;
  strategy_signal: (msg: StrategySignal, info: DeliveryInfo) => void;
  strategy_status: (msg: StrategyStatus, info: DeliveryInfo) => void;
}

export declare class Stream {
  constructor(opts?: StreamOptions);
  readonly state: StreamState;
  readonly connected: boolean;
  /** The highest private-stream seq handled (from the store). */
  readonly lastSeq: number | null;
  readonly topics: Set<string>;
  /** The latest `connected` payload. */
  readonly session: Connected | null;
  /** Date.now() of the latest message from the server. */
  readonly lastMessageAt: number | null;
  readonly stats: { connects: number; resumes: number; replayed: number; duplicates: number; resyncs: number };
  /** The refusal that stopped the stream, when state is "offline" for that reason. */
  readonly refusal: HtsError | null;
  /** After a renew: the connection's new expiry (epoch seconds). */
  readonly tokenExpiresAt: number | null;
  /** The underlying socket.io-client Socket. */
  readonly socket: any;
  on<E extends keyof StreamEvents>(event: E, handler: StreamEvents[E]): () => void;
  on(event: string, handler: (...args: any[]) => void): () => void;
  /** Resolves with the server's `connected` payload; rejects if refused for good. */
  connect(): Promise<Connected>;
  reconnect(): void;
  close(): void;
  call<T extends Ack = Ack>(event: string, payload?: unknown, opts?: { timeout?: number }): Promise<T>;
  subscribe(topics: string | string[]): Promise<string[]>;
  unsubscribe(topics: string | string[]): Promise<string[]>;
}
