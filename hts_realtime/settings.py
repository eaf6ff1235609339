"""Settings: read once, at start-up, from flags and ``HTS_*`` variables.

Nothing else in the package reads the environment. Every limit the server
enforces is a field here, so operators can tune it without code changes.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_SECRET_BYTES = 32
MIN_ADMIN_PASSWORD_BYTES = 16
ROLES = ("single", "engine", "gateway")
FEEDS = ("sim", "kis", "replay")


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which setting."""


class Secret:
    """A string that never prints: ``repr`` and ``str`` hide it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    # where to listen
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    # identity
    jwt_secret: Secret = field(default_factory=lambda: Secret(""))
    jwt_issuer: str = "hts-realtime"
    jwt_audience: str = "hts-clients"
    jwt_leeway_seconds: int = 5
    access_token_ttl_seconds: int = 3600
    # a login's refresh token (rotated at every POST /api/auth/refresh) lives this long
    refresh_token_ttl_seconds: int = 30 * 86_400
    # an open connection gets `token_expiring` this long before its token's exp (and is
    # closed `token_expired` at exp unless it sent `renew` with a fresh token)
    token_expiry_warning_seconds: float = 60.0
    # how often a server looks for access changes made by any process (logout,
    # disable, password change) and closes the sockets that lost access
    revocation_poll_seconds: float = 0.25
    # login: wrong passwords allowed per username / per address, refilled evenly over
    # the window; scrypt threads, and logins allowed to wait for one
    login_failures_per_username: int = 5
    login_failures_per_address: int = 20
    login_failure_window_seconds: float = 60.0
    login_concurrency: int = 1
    login_queue: int = 32
    # storage and scale-out
    database: str = "./hts.db"
    # what an acknowledged write survives on SQLite: FULL fsyncs every (group) commit
    # (a power loss), NORMAL only a process crash (storage/sqlite.py)
    database_synchronous: str = "FULL"
    # PostgreSQL instead of the SQLite file (a cluster's engines share it): postgresql://...
    database_url: str | None = None
    # what an acknowledged write survives on PostgreSQL: on (flushed to its WAL on disk)
    # or off (a server crash may lose the last commits; storage/postgres.py)
    database_synchronous_commit: str = "on"
    database_pool_size: int = 8
    # a cluster's engines: the leader's lease, renewed every third of it; a standby takes
    # over once it has run out (engine/leadership.py)
    lease_seconds: float = 3.0
    # the address gateways reach this engine at (X-HTS-Leader); default http://host:port
    engine_address: str = ""
    redis_url: str | None = None
    # scale-out: "single" (one process), or a cluster's "engine" (one) and "gateway"s (any)
    role: str = "single"
    engine_url: str | None = None  # a gateway reaches the engine's HTTP port here
    # a gateway's wait for an engine's answer; one that does not answer in time (paused,
    # partitioned) is left for the next engine of HTS_ENGINE_URL
    engine_timeout_seconds: float = 10.0
    gateway_id: str = ""  # a gateway's name in the cluster status (default host:port)
    redis_stream_length: int = 10_000  # private events kept per user in Redis
    outbox_batch: int = 500  # events the engine sends to Redis per round trip
    cluster_status_interval_seconds: float = 2.0  # how often a gateway reports itself
    # peers (nginx) whose X-Forwarded-For names the client: per-address limits and logs use it
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    # the Socket.IO Admin UI (https://socket.io/docs/v4/admin-ui/) on namespace /admin,
    # read-only, for whoever has these credentials (edge/socketio/admin.py)
    admin_ui: bool = False
    admin_ui_username: str = "admin"
    admin_ui_password: Secret = field(default_factory=lambda: Secret(""))
    admin_ui_mode: str = "development"  # development: events too; production: stats only
    admin_ui_events_per_second: float = 50.0  # events and room changes shown, at most
    # where market data comes from: the simulator, KIS (한국투자증권) Open API, or a recording
    feed: str = "sim"  # sim | kis | replay
    kis_env: str = "real"  # real (실전) | paper (모의투자): which KIS domain and limits
    kis_app_key: Secret = field(default_factory=lambda: Secret(""))
    kis_app_secret: Secret = field(default_factory=lambda: Secret(""))
    kis_key_file: str | None = None  # instead of the two above: a kis_devlp.yaml-style file
    kis_custtype: str = "P"  # P 개인, B 법인
    kis_rest_url: str | None = None  # default: KIS's domain for kis_env
    kis_ws_url: str | None = None
    kis_registrations: int = 41  # WebSocket registrations per session (KIS: 41)
    kis_min_hold_seconds: float = 30.0  # a registration is held this long before eviction
    kis_rest_per_second: float = 0.0  # 0: half of KIS's limit (10 real, 1 paper)
    kis_snapshot_interval_seconds: float = 5.0  # REST refresh of a feed_limited symbol
    kis_vi_feed: bool = True  # H0STMKO0 (VI, halts, session) per wanted symbol; real only
    kis_subscribe_per_second: float = 10.0  # pacing of (un)subscribe requests
    kis_idle_timeout_seconds: float = 240.0  # nothing at all (not even PINGPONG): reconnect
    kis_approval_ttl_seconds: float = 86_400.0  # the approval key's lifetime (KIS: 24 h)
    replay_file: str | None = None  # HTS_FEED=replay: a file `hts-realtime feed record` wrote
    replay_speed: float = 1.0  # 1.0 real time; 10 ten times faster
    replay_start_delay_seconds: float = 0.0  # hold the tape this long after start-up
    replay_loop: bool = False  # start over at the end (a demo that never ends)
    # the simulated market
    market_tick_seconds: float = 0.5
    market_seed: int | None = None
    market_hours: str = "always"  # always | krx | HH:MM-HH:MM (KST, weekdays)
    market_clock_offset_seconds: float = 0.0  # the sessions are judged at now + this
    market_vi_seconds: float = 120.0  # a VI's single-price auction (KRX: 2 minutes)
    market_news: str = ""  # "086520:+0.35@5,005930:-0.05": news, @ seconds after start
    price_interval_seconds: float = 1.0
    orderbook_interval_seconds: float = 0.5
    candle_flush_seconds: float = 2.0
    # limits, per connection
    max_subscriptions: int = 200
    max_topics_per_request: int = 100
    max_payload_bytes: int = 64 * 1024
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    ws_compression: bool = False  # permessage-deflate: ~4x memory per connection
    ping_interval_seconds: float = 25.0
    ping_timeout_seconds: float = 20.0
    shutdown_grace_seconds: float = 2.0
    # the send path: a bounded outbox per connection (edge/outbox.py)
    outbox_max_bytes: int = 1024 * 1024  # waiting for a slow client, then slow_consumer
    outbox_max_age_seconds: float = 30.0  # oldest never-dropped message, then slow_consumer
    send_high_water_bytes: int = 64 * 1024  # transport buffer past which messages wait
    socket_send_buffer_bytes: int = 0  # SO_SNDBUF per websocket (0: the kernel's default)
    # the plain WebSocket at /api/ws
    ws_heartbeat_seconds: float = 25.0  # ping period; no pong within half of it closes
    # limits against hostile clients (see edge.wire_policy and edge.socketio.hooks)
    connect_timeout_seconds: float = 5.0  # Engine.IO open -> Socket.IO CONNECT accepted
    request_read_timeout_seconds: float = 10.0  # a long-polling POST body must arrive by then
    bad_requests_per_second: float = 5.0  # refused requests / bad frames a connection may send
    bad_requests_burst: int = 100  # ... before it is disconnected as a flooder
    max_connections_per_address: int = 500  # concurrent Engine.IO sessions; 0 = no limit
    connects_per_second_per_address: float = 20.0  # new sessions; 0 = no limit
    connect_burst_per_address: int = 100
    bad_input_log_per_second: float = 20.0  # log lines about bad input, whole process
    # journal-writing requests per user (orders, cancels, strategy changes)
    write_rate_per_second: float = 20.0
    write_rate_burst: int = 200
    # paper trading
    initial_cash: int = 100_000_000
    journal_retention: int = 100_000
    max_order_quantity: int = 1_000_000
    fill_participation: float = 0.5
    # costs (README "Costs"): brokerage fee on every fill, transaction tax on sells
    brokerage_fee_rate: float = 0.00015
    sell_tax_rate_kospi: float = 0.002
    sell_tax_rate_kosdaq: float = 0.002
    # strategies
    strategy_status_interval_seconds: float = 1.0
    max_strategies_per_user: int = 100
    strategy_signal_history: int = 100  # signals kept per strategy (the card's history)
    # the dashboard
    max_watchlist: int = 50
    # logging and monitoring
    log_level: str = "INFO"
    log_format: str = "text"  # "text" (human-readable) or "json" (one object per line)
    metrics_port: int | None = None  # also serve /metrics, unauthenticated, on this port

    def market_news_moves(self) -> dict[str, tuple[float, float]]:
        """``HTS_MARKET_NEWS`` as {symbol: (move, delay)}: ``SYMBOL:+0.35@5`` is +35%
        news 5 s after start (at once without ``@``)."""
        moves: dict[str, tuple[float, float]] = {}
        for item in filter(None, (p.strip() for p in self.market_news.split(","))):
            m = re.match(r"^([0-9A-Z]{6}):([+-]?[0-9.]+)(?:@([0-9.]+))?$", item)
            try:
                value = float(m.group(2)) if m else float("nan")
                delay = float(m.group(3) or 0) if m else 0.0
            except ValueError:
                value = float("nan")
            if m is None or not -0.9 < value < 1.0:
                raise SettingsError(f"HTS_MARKET_NEWS: {item!r} is not SYMBOL:+0.35[@seconds]")
            moves[m.group(1)] = (value, delay)
        return moves

    def __post_init__(self) -> None:
        secret = self.jwt_secret.reveal()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(
                f"HTS_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                "(or run with --demo to generate one)"
            )
        if not 0 < self.port < 65536:
            raise SettingsError(f"port {self.port} is out of range")
        for name in ("market_tick_seconds", "price_interval_seconds", "rate_limit_per_second",
                     "ws_heartbeat_seconds",
                     "connect_timeout_seconds", "request_read_timeout_seconds",
                     "bad_requests_per_second", "bad_input_log_per_second",
                     "revocation_poll_seconds", "login_failure_window_seconds",
                     "write_rate_per_second",
                     "outbox_max_bytes", "outbox_max_age_seconds", "send_high_water_bytes",
                     "orderbook_interval_seconds", "candle_flush_seconds",
                     "engine_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.market_vi_seconds <= 0:
            raise SettingsError("market_vi_seconds must be positive")
        self.market_news_moves()  # refuses a malformed HTS_MARKET_NEWS now
        if self.database_synchronous not in ("FULL", "NORMAL"):
            raise SettingsError("database_synchronous must be FULL or NORMAL")
        if self.database_url is not None and not self.database_url.startswith(
                ("postgresql://", "postgres://")):
            raise SettingsError("HTS_DATABASE_URL must be a postgresql:// URL")
        if self.database_synchronous_commit not in ("on", "off"):
            raise SettingsError("database_synchronous_commit must be on or off")
        if self.database_pool_size < 1:
            raise SettingsError("database_pool_size must be at least 1")
        if not 0.3 <= self.lease_seconds <= 60:
            raise SettingsError("lease_seconds must be between 0.3 and 60")
        if self.log_format not in ("text", "json"):
            raise SettingsError("log_format must be 'text' or 'json'")
        if self.role not in ROLES:
            raise SettingsError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.role != "single" and not self.redis_url:
            raise SettingsError(f"role {self.role} needs HTS_REDIS_URL")
        if self.role == "gateway" and not self.engine_url:
            raise SettingsError("role gateway needs HTS_ENGINE_URL (the engine's HTTP address)")
        for name in ("redis_stream_length", "outbox_batch"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if self.cluster_status_interval_seconds <= 0:
            raise SettingsError("cluster_status_interval_seconds must be positive")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            raise SettingsError(f"metrics_port {self.metrics_port} is out of range")
        for name in ("max_watchlist", "strategy_signal_history"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        for name in ("max_connections_per_address", "connects_per_second_per_address",
                     "bad_requests_burst", "connect_burst_per_address"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must not be negative")
        for name in ("login_failures_per_username", "login_failures_per_address",
                     "login_concurrency", "write_rate_burst", "access_token_ttl_seconds",
                     "refresh_token_ttl_seconds"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if self.token_expiry_warning_seconds < 0:
            raise SettingsError("token_expiry_warning_seconds must not be negative")
        if self.login_queue < 0:
            raise SettingsError("login_queue must not be negative")
        if not 0 < self.fill_participation <= 1:
            raise SettingsError("fill_participation must be in (0, 1]")
        for name in ("brokerage_fee_rate", "sell_tax_rate_kospi", "sell_tax_rate_kosdaq"):
            if not 0 <= getattr(self, name) < 0.1:
                raise SettingsError(f"{name} must be in [0, 0.1)")
        if self.admin_ui:
            if len(self.admin_ui_password.reveal().encode()) < MIN_ADMIN_PASSWORD_BYTES:
                raise SettingsError(f"HTS_ADMIN_UI needs HTS_ADMIN_UI_PASSWORD of at least "
                                    f"{MIN_ADMIN_PASSWORD_BYTES} bytes")
            if not self.admin_ui_username:
                raise SettingsError("HTS_ADMIN_UI needs HTS_ADMIN_UI_USERNAME")
            if self.admin_ui_mode not in ("development", "production"):
                raise SettingsError("admin_ui_mode must be 'development' or 'production'")
            if not self.admin_ui_events_per_second > 0:
                raise SettingsError("admin_ui_events_per_second must be positive")
        if self.feed not in FEEDS:
            raise SettingsError(f"feed must be one of {', '.join(FEEDS)}, not {self.feed!r}")
        if self.feed == "kis":
            if self.kis_env not in ("real", "paper"):
                raise SettingsError("kis_env must be 'real' or 'paper'")
            if not self.kis_key_file and not (self.kis_app_key.reveal()
                                              and self.kis_app_secret.reveal()):
                raise SettingsError("HTS_FEED=kis needs HTS_KIS_APP_KEY and HTS_KIS_APP_SECRET "
                                    "(or HTS_KIS_KEY_FILE)")
            if self.kis_custtype not in ("P", "B"):
                raise SettingsError("kis_custtype must be 'P' or 'B'")
            if self.kis_registrations < 1:
                raise SettingsError("kis_registrations must be at least 1")
            for name in ("kis_snapshot_interval_seconds", "kis_subscribe_per_second",
                         "kis_idle_timeout_seconds", "kis_approval_ttl_seconds"):
                if getattr(self, name) <= 0:
                    raise SettingsError(f"{name} must be positive")
            if self.kis_rest_per_second < 0 or self.kis_min_hold_seconds < 0:
                raise SettingsError("kis_rest_per_second and kis_min_hold_seconds "
                                    "must not be negative")
        if self.feed == "replay" and not self.replay_file:
            raise SettingsError("HTS_FEED=replay needs HTS_REPLAY_FILE")
        if self.replay_speed <= 0 or self.replay_start_delay_seconds < 0:
            raise SettingsError("replay_speed must be positive and replay_start_delay_seconds "
                                "not negative")
        if self.market_hours not in ("always", "krx") and not re.match(
                r"^\d{2}:\d{2}-\d{2}:\d{2}$", self.market_hours):
            raise SettingsError("market_hours must be 'always', 'krx' or 'HH:MM-HH:MM'")

    @classmethod
    def load(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Build settings from ``HTS_*`` variables, then flag overrides.

        Flags win over the environment. ``demo=True`` allows a generated
        JWT secret when none is configured.
        """
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, f in fields.items():
            raw = env.get("HTS_" + name.upper())
            if raw is not None and raw != "":
                values[name] = _parse(name, f.type, raw)
        # contract-level aliases
        if env.get("HTS_DATABASE"):
            values["database"] = env["HTS_DATABASE"]
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
        demo = bool(values.get("demo", False))
        if "jwt_secret" in values and not isinstance(values["jwt_secret"], Secret):
            values["jwt_secret"] = Secret(str(values["jwt_secret"]))
        if "jwt_secret" not in values and demo:
            values["jwt_secret"] = Secret(secrets.token_urlsafe(48))
        return cls(**values)

    @property
    def engine_urls(self) -> tuple[str, ...]:
        """A gateway's engines (``HTS_ENGINE_URL``, comma-separated): it follows the leader."""
        return tuple(u.strip() for u in (self.engine_url or "").split(",") if u.strip())

    def with_(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(name: str, type_name: object, raw: str) -> Any:
    t = str(type_name)
    try:
        if t == "Secret":
            return Secret(raw)
        if t == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if t == "int":
            return int(raw)
        if t == "float":
            return float(raw)
        if t == "int | None":
            return int(raw)
        if t == "tuple[str, ...]":
            return tuple(p.strip() for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise SettingsError(f"HTS_{name.upper()}: cannot parse {raw!r}") from exc
    return raw
