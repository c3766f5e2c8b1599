"""Every setting of candleflow, declared once and read once from the environment.

Each field of `Settings` is one `setting(default, cast, doc)`: its variable is
`CANDLEFLOW_` + the field name in capitals, its default is the text an empty
environment stands for (cast like any other value, so `Settings()` equals
`Settings.from_env({})`), and its doc is the README's "Configuration" row
(`scripts/settings_table.py` prints the table from `SETTINGS_DOC`).

`Settings.from_env()` casts each variable that is set; a malformed value raises
`ConfigError` naming the variable and what it expects. The result is frozen: nothing
changes a setting after start. To add a setting, add one field line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from candleflow.core.casts import (
    ANY_PORT,
    BOOLEAN,
    BOOTSTRAP,
    BYTES,
    DATABASE_URL,
    DATABASE_URL_OR_EMPTY,
    DIRECTORY,
    FEEDS,
    FILE,
    HOST,
    HTTP_URL,
    IDENTIFIER,
    INTEGER,
    NON_NEGATIVE_FLOAT,
    NON_NEGATIVE_HOURS,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_SECONDS,
    ORIGINS,
    PAIR,
    PERIODS,
    PORT,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    SECONDS,
    SYMBOLS,
    TEXT,
    TOPIC,
    WS_URL,
    Cast,
    choice,
    setting,
)
from candleflow.core.casts import default_stack_dir as default_stack_dir  # noqa: PLC0414 (re-exported)
from candleflow.core.casts import variable as variable  # noqa: PLC0414 (re-exported)
from candleflow.core.setting_checks import access_problems, kafka_security_problems
from candleflow.domain.exceptions import ConfigError

if TYPE_CHECKING:
    from candleflow.domain.feeds import FeedSpec

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EVENT_LOOPS = ("uvloop", "asyncio")
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
ACCESS_MODES = ("open", "tokens")
ROLES = ("all", "engine", "web")
REPLICA_FALLBACKS = ("primary", "fail")


@dataclass(frozen=True)
class Settings:
    """All settings; one `setting(default, cast, doc)` per field (its variable is
    `variable(field name)`)."""

    kafka_bootstrap: str = setting("localhost:9092", BOOTSTRAP, "Kafka bootstrap servers, host:port[,host:port]")
    kafka_client_id: str = setting(
        "candleflow", IDENTIFIER, "prefix of the client id of every Kafka client (broker logs, quotas, ACLs)"
    )
    kafka_security_protocol: str = setting(
        "PLAINTEXT",
        choice(KAFKA_PROTOCOLS, str.upper),
        "how every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_ssl_cafile: str = setting(
        "", FILE, "PEM file of the CA(s) that sign the brokers' certificates (SSL, SASL_SSL); empty: the system's CAs"
    )
    kafka_ssl_certfile: str = setting(
        "", FILE, "PEM client certificate, for brokers that authenticate clients by TLS (may hold the key too)"
    )
    kafka_ssl_keyfile: str = setting("", FILE, "PEM private key of the client certificate, when not in it")
    kafka_ssl_key_password: str = setting("", TEXT, "password of an encrypted client key", secret=True)
    kafka_ssl_check_hostname: bool = setting(
        "true", BOOLEAN, "check that a broker's certificate names the host connected to (off only for test setups)"
    )
    kafka_sasl_mechanism: str = setting(
        "PLAIN", choice(SASL_MECHANISMS, str.upper), "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str = setting("", TEXT, "SASL user name (SASL_PLAINTEXT, SASL_SSL)")
    kafka_sasl_password: str = setting("", TEXT, "SASL password (SASL_PLAINTEXT, SASL_SSL)", secret=True)
    kafka_replication_factor: int = setting(
        "1", POSITIVE_INT, "replicas of each topic candleflow creates (the local stack has one broker)"
    )
    database_url: str = setting(
        "postgresql://candleflow@localhost:5432/candleflow", DATABASE_URL, "PostgreSQL / TimescaleDB connection URL"
    )
    database_read_url: str = setting(
        "",
        DATABASE_URL_OR_EMPTY,
        "a read replica for history, indicators, marks, quotes and symbols; empty: CANDLEFLOW_DATABASE_URL",
        secret=True,
    )
    replica_max_lag: float = setting(
        "10", SECONDS, "seconds a read replica may trail the primary before its reads go elsewhere"
    )
    replica_fallback: str = setting(
        "primary",
        choice(REPLICA_FALLBACKS),
        "where reads go while the replica lags or is down: primary, or fail (503 saying why)",
    )
    role: str = setting(
        "all",
        choice(ROLES),
        "what a process runs: all (engine and web), engine (bars; serves only /healthz, /livez, /metrics) "
        "or web (UDF, SSE, quotes and the chart; no engine; `candleflow web`)",
    )
    app_id: str = setting("candleflow", IDENTIFIER, "Faust app id: the consumer group workers share")
    web_host: str = setting("0.0.0.0", HOST, "address the worker's web server binds")
    web_port: int = setting("6066", PORT, "port of the UDF/SSE/chart web server")
    web_reuse_port: bool = setting(
        "false", BOOLEAN, "bind the web port with SO_REUSEPORT, so several processes of one host share it"
    )
    ticks_topic: str = setting("ticks.raw", TOPIC, "topic of normalised ticks (key = symbol)")
    dead_topic: str = setting("ticks.dead", TOPIC, "dead-letter topic for rejected ticks")
    updates_topic: str = setting("bars.updates", TOPIC, "topic of bar changes for live fan-out")
    ticks_partitions: int = setting("8", POSITIVE_INT, "partitions of the ticks topic (the scale-out limit)")
    source: str = setting(
        "none",
        FEEDS,
        "feeds a worker runs as a leader-only task, comma-separated: none, synthetic, cryptocompare, coindesk, "
        "or an exchange (binance, coinbase, kraken, okx, bitstamp) with optional markets, e.g. "
        "binance:BTC/USDT+ETH/USDT,kraken:BTC/USD (docs/ingest.md)",
    )
    synthetic_symbols: tuple[str, ...] = setting(
        "Coinbase:BTC/USD,Coinbase:ETH/USD,Kraken:SOL/USD,Binance:DOGE/USDT", SYMBOLS, "symbols of the synthetic feed"
    )
    synthetic_rate: float = setting("20", POSITIVE_FLOAT, "synthetic ticks per second, all symbols together")
    synthetic_seed: int = setting("1", INTEGER, "seed of the synthetic random walk")
    synthetic_history: float = setting(
        "0",
        NON_NEGATIVE_HOURS,
        "hours of past synthetic ticks laid down first for symbols the ticks topic holds none of (`make run`: 48)",
    )
    cryptocompare_api_key: str = setting("", TEXT, "CryptoCompare API key (live feed)")
    cryptocompare_url: str = setting("wss://streamer.cryptocompare.com/v2", WS_URL, "CryptoCompare streamer URL")
    cryptocompare_rest_url: str = setting(
        "https://min-api.cryptocompare.com", HTTP_URL, "CryptoCompare REST base URL (backfill)"
    )
    cryptocompare_pairs: tuple[str, ...] = setting(
        "Coinbase:BTC/USD,Coinbase:ETH/USD", SYMBOLS, "symbols the live client subscribes to"
    )
    coindesk_api_key: str = setting(
        "", TEXT, "CoinDesk Data API key (the coindesk feed; CANDLEFLOW_CRYPTOCOMPARE_API_KEY when unset)"
    )
    coindesk_ws_url: str = setting("wss://data-streamer.coindesk.com", WS_URL, "CoinDesk Data streamer URL")
    coindesk_rest_url: str = setting(
        "https://data-api.coindesk.com", HTTP_URL, "CoinDesk Data REST base URL (trades a coindesk feed fetches)"
    )
    coindesk_trade_stream: str = setting(
        "spot_v1_trades",
        IDENTIFIER,
        "`type` of the CoinDesk Data streamer's spot trade stream (its public documentation leaves the name open)",
    )
    binance_ws_url: str = setting("wss://stream.binance.com:9443", WS_URL, "Binance spot market streams URL")
    binance_rest_url: str = setting("https://api.binance.com", HTTP_URL, "Binance spot REST base URL")
    coinbase_ws_url: str = setting(
        "wss://advanced-trade-ws.coinbase.com", WS_URL, "Coinbase Advanced Trade market data websocket URL"
    )
    coinbase_rest_url: str = setting("https://api.coinbase.com", HTTP_URL, "Coinbase Advanced Trade REST base URL")
    kraken_ws_url: str = setting("wss://ws.kraken.com/v2", WS_URL, "Kraken spot websocket v2 URL")
    kraken_rest_url: str = setting("https://api.kraken.com", HTTP_URL, "Kraken spot REST base URL")
    okx_ws_url: str = setting("wss://ws.okx.com:8443/ws/v5/public", WS_URL, "OKX v5 public websocket URL")
    okx_rest_url: str = setting("https://www.okx.com", HTTP_URL, "OKX v5 REST base URL")
    bitstamp_ws_url: str = setting("wss://ws.bitstamp.net", WS_URL, "Bitstamp websocket v2 URL")
    bitstamp_rest_url: str = setting("https://www.bitstamp.net", HTTP_URL, "Bitstamp REST base URL")
    market_history: float = setting(
        "6",
        NON_NEGATIVE_HOURS,
        "hours of real trades an exchange or coindesk feed fetches over REST first for markets the ticks topic "
        "holds no tick of; later starts and reconnects fill their gap from the newest tick held (0: none)",
    )
    feed_down_after: float = setting(
        "60", SECONDS, "seconds a configured feed may stay disconnected before /healthz reports it down"
    )
    ma_periods: tuple[int, ...] = setting("20,50,200", PERIODS, "SMA and EMA periods kept per series")
    crossover: tuple[int, int] = setting("20,50", PAIR, "fast,slow SMA periods whose crossings become marks")
    functions: str = setting(
        "", TEXT, "more indicators and signals, e.g. rsi(period=14),mypkg.ind:MyIndicator (docs/functions.md)"
    )
    batch_max: int = setting(
        "50000", POSITIVE_INT, "ticks per engine batch at most (batches grow this far only when ticks pile up)"
    )
    batch_within: float = setting("0.2", SECONDS, "seconds an engine batch may gather at most")
    future_tolerance: float = setting(
        "300", NON_NEGATIVE_SECONDS, "seconds a tick may lie in the future before it is rejected"
    )
    stall_after: float = setting(
        "15",
        SECONDS,
        "seconds a partition may have ticks waiting with its ledger standing still before /healthz says stalled",
    )
    sse_max_clients: int = setting("5000", POSITIVE_INT, "SSE connections per web process; more get 503")
    sse_queue: int = setting("64", POSITIVE_INT, "pending bars per SSE client before it is dropped")
    sse_heartbeat: float = setting("15", SECONDS, "seconds between SSE heartbeat comments")
    sse_max_per_client: int = setting(
        "100", POSITIVE_INT, "SSE connections one client (token holder, else address) may hold; more get 429"
    )
    sse_max_subs_per_client: int = setting(
        "1000", POSITIVE_INT, "subscriptions one client may hold over all its SSE connections; more get 429"
    )
    sse_idle: float = setting("60", SECONDS, "seconds an SSE connection may hold no subscription before it is closed")
    sse_max_unread: int = setting(
        "262144",
        BYTES,
        "bytes an SSE client may leave unread in the process (written, not yet taken by its socket) before it is "
        "dropped; its socket's kernel send buffer is capped near as much",
    )
    access: str = setting(
        "open", choice(ACCESS_MODES), "who may read: open (anyone), or tokens (a signed access token, SECURITY.md)"
    )
    token_secret: str = setting(
        "", TEXT, "HMAC secret (at least 32 bytes) that signs and verifies access tokens (access=tokens)", secret=True
    )
    token_public_keys: str = setting(
        "", FILE, "PEM or JWKS file of an identity provider's public keys that verify access tokens (access=tokens)"
    )
    token_issuer: str = setting("", TEXT, "the `iss` every access token must carry; empty: not checked")
    token_audience: str = setting("", TEXT, "the `aud` every access token must carry; empty: not checked")
    admin_port: int = setting(
        "0", PORT, "port of the admin surface (/metrics, detailed /healthz); 0: served on the web port to admin tokens"
    )
    admin_host: str = setting("127.0.0.1", HOST, "address the admin port binds")
    cors_origins: tuple[str, ...] = setting(
        "",
        ORIGINS,
        "origins whose pages may read the datafeed (`*`: any, never with cookies); empty: `*` while access is open, "
        "none with tokens",
    )
    rate_limit: float = setting(
        "100",
        NON_NEGATIVE_FLOAT,
        "requests per second one client may make (bursts of rate_burst); more get 429; 0: no limit",
    )
    rate_burst: int = setting("200", POSITIVE_INT, "requests one client may make at once before rate_limit applies")
    proxy_hops: int = setting(
        "0",
        NON_NEGATIVE_INT,
        "reverse proxies in front that append to X-Forwarded-For: the client address is that many entries from its "
        "end (0: the peer's address)",
    )
    web_idle_timeout: float = setting(
        "15",
        SECONDS,
        "seconds a connection may stay idle between requests, and the longest a client may take to send a request "
        "head, before it is closed",
    )
    web_max_reads: int = setting(
        "30",
        POSITIVE_INT,
        "requests reading the database at once per web process (they share its connections); more get 503 at once",
    )
    replay_max: int = setting("64", POSITIVE_INT, "Bar Replays running at once per web process; more get 503")
    replay_window: int = setting(
        "2000", POSITIVE_INT, "bars a replayed series keeps in memory (older late ticks: the client refetches)"
    )
    max_countback: int = setting("20000", POSITIVE_INT, "largest countback /udf/history accepts")
    max_span_bars: int = setting("100000", POSITIVE_INT, "most bars or marks one answer holds")
    event_loop: str = setting(
        "uvloop", choice(EVENT_LOOPS), "event loop of the worker: uvloop, or asyncio (the standard library's)"
    )
    log_level: str = setting("INFO", choice(LOG_LEVELS, str.upper), "log level of every command and of the worker")
    stack_dir: Path = setting(
        lambda: str(default_stack_dir()),
        DIRECTORY,
        "data, logs and jars of the local stack",
        shown=".stack (in the clone)",
    )
    stack_kafka_port: int = setting("0", ANY_PORT, "port of the local broker; 0 picks a free one")
    stack_pg_port: int = setting("0", ANY_PORT, "port of the local PostgreSQL; 0 picks a free one")

    def __post_init__(self) -> None:
        problems = kafka_security_problems(self) + access_problems(self)
        if problems:
            raise ConfigError("; ".join(problems))
        kinds = {spec.kind for spec in self.feeds}
        if "cryptocompare" in kinds and not self.cryptocompare_api_key:
            raise ConfigError(
                f"{SOURCE}={self.source} needs {CC_KEY}: set it to your CryptoCompare API key "
                f"or choose a keyless feed ({SOURCE}=synthetic or an exchange such as binance)"
            )
        if "coindesk" in kinds and not self.coindesk_key:
            raise ConfigError(
                f"{SOURCE}={self.source} needs {variable('coindesk_api_key')} (or {CC_KEY}): set it to your "
                f"CoinDesk Data API key or choose a keyless feed such as binance"
            )
        missing = [p for p in self.crossover if p not in self.ma_periods]
        if missing:
            raise ConfigError(
                f"{variable('crossover')}={','.join(map(str, self.crossover))} uses periods {missing} that "
                f"{variable('ma_periods')}={','.join(map(str, self.ma_periods))} does not keep: add them there"
            )

    @property
    def feeds(self) -> tuple[FeedSpec, ...]:
        """The parsed `source`: one `FeedSpec` per feed."""
        from candleflow.domain.feeds import parse_feeds

        return parse_feeds(self.source)

    @property
    def coindesk_key(self) -> str:
        return self.coindesk_api_key or self.cryptocompare_api_key

    def venue_urls(self, key: str) -> tuple[str, str]:
        """(websocket URL, REST base URL) of the exchange `key` (`binance`, ...)."""
        return getattr(self, f"{key}_ws_url"), getattr(self, f"{key}_rest_url")

    @property
    def kafka_url(self) -> str:
        """The broker list in Faust's `kafka://` form."""
        return ";".join(f"kafka://{s.strip()}" for s in self.kafka_bootstrap.split(","))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default `os.environ`); unset variables keep their defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        wrong: list[str] = []
        for spec in fields(cls):
            name = variable(spec.name)
            if name in env:
                try:
                    values[spec.name] = _parse(name, env[name], spec.metadata["cast"])
                except ConfigError as exc:
                    wrong.append(str(exc))
        if len(wrong) > 1:  # every malformed variable at once, not one per attempt
            raise ConfigError(f"{len(wrong)} settings need fixing: " + "; ".join(wrong))
        if wrong:
            raise ConfigError(wrong[0])
        return cls(**values)


def _parse(name: str, raw: str, cast: Cast[T]) -> T:
    try:
        return cast.parse(raw.strip())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={raw!r} is not valid: expected {cast.expect}") from exc


#: (variable, default, meaning) of every setting, in declaration order: the README's table.
SETTINGS_DOC: list[tuple[str, str, str]] = [
    (variable(spec.name), spec.metadata["shown"], spec.metadata["doc"]) for spec in fields(Settings)
]

SOURCE = variable("source")
CC_KEY = variable("cryptocompare_api_key")
WEB_PORT = variable("web_port")
SYNTH_HISTORY = variable("synthetic_history")
