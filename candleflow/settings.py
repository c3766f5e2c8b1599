"""Every setting of candleflow, read once from the environment.

`Settings.from_env()` parses and checks each `CANDLEFLOW_*` variable with a cast and a
default; a missing or malformed value raises `ConfigError` naming the variable and
what it expects. The result is frozen: nothing changes a setting after start.
The README's "Configuration" table is generated from `SETTINGS_DOC`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from candleflow.exceptions import ConfigError

T = TypeVar("T")

SOURCES = ("none", "synthetic", "cryptocompare")

#: (variable, default, meaning) — the README's configuration table.
SETTINGS_DOC: list[tuple[str, str, str]] = []


def _doc(name: str, default: str, meaning: str) -> str:
    SETTINGS_DOC.append((name, default, meaning))
    return name


def _read(env: Mapping[str, str], name: str, default: str, cast: Callable[[str], T], expect: str) -> T:
    raw = env.get(name, default)
    try:
        return cast(raw.strip())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={raw!r} is not valid: expected {expect}") from exc


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError(raw)
    return value


def _periods(raw: str) -> tuple[int, ...]:
    values = tuple(sorted({_positive_int(p) for p in raw.split(",") if p.strip()}))
    if not values:
        raise ValueError(raw)
    return values


def _pair(raw: str) -> tuple[int, int]:
    fast, slow = (_positive_int(p) for p in raw.split(","))
    if fast >= slow:
        raise ValueError(raw)
    return fast, slow


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def cast(raw: str) -> str:
        value = raw.lower()
        if value not in options:
            raise ValueError(raw)
        return value

    return cast


def _list(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _bootstrap(raw: str) -> str:
    for server in raw.split(","):
        if not re.fullmatch(r"[\w.\-]+:\d{1,5}", server.strip()):
            raise ValueError(raw)
    return raw


def _database_url(raw: str) -> str:
    if not re.match(r"postgres(ql)?://", raw):
        raise ValueError(raw)
    return raw


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(raw)
    return value


KAFKA = _doc("CANDLEFLOW_KAFKA_BOOTSTRAP", "localhost:9092", "Kafka bootstrap servers, host:port[,host:port]")
DATABASE = _doc(
    "CANDLEFLOW_DATABASE_URL",
    "postgresql://candleflow@localhost:5432/candleflow",
    "PostgreSQL / TimescaleDB connection URL",
)
APP_ID = _doc("CANDLEFLOW_APP_ID", "candleflow", "Faust app id: the consumer group workers share")
WEB_HOST = _doc("CANDLEFLOW_WEB_HOST", "0.0.0.0", "address the worker's web server binds")
WEB_PORT = _doc("CANDLEFLOW_WEB_PORT", "6066", "port of the UDF/SSE/chart web server")
TICKS_TOPIC = _doc("CANDLEFLOW_TICKS_TOPIC", "ticks.raw", "topic of normalised ticks (key = symbol)")
DEAD_TOPIC = _doc("CANDLEFLOW_DEAD_TOPIC", "ticks.dead", "dead-letter topic for rejected ticks")
UPDATES_TOPIC = _doc("CANDLEFLOW_UPDATES_TOPIC", "bars.updates", "topic of bar changes for live fan-out")
PARTITIONS = _doc("CANDLEFLOW_TICKS_PARTITIONS", "8", "partitions of the ticks topic (the scale-out limit)")
SOURCE = _doc(
    "CANDLEFLOW_SOURCE",
    "none",
    "feed a worker runs as a leader-only task: none, synthetic or cryptocompare",
)
SYNTH_SYMBOLS = _doc(
    "CANDLEFLOW_SYNTHETIC_SYMBOLS",
    "Coinbase:BTC/USD,Coinbase:ETH/USD,Kraken:SOL/USD,Binance:DOGE/USDT",
    "symbols of the synthetic feed",
)
SYNTH_RATE = _doc("CANDLEFLOW_SYNTHETIC_RATE", "20", "synthetic ticks per second, all symbols together")
SYNTH_SEED = _doc("CANDLEFLOW_SYNTHETIC_SEED", "1", "seed of the synthetic random walk")
CC_KEY = _doc("CANDLEFLOW_CRYPTOCOMPARE_API_KEY", "", "CryptoCompare API key (live feed)")
CC_URL = _doc(
    "CANDLEFLOW_CRYPTOCOMPARE_URL",
    "wss://streamer.cryptocompare.com/v2",
    "CryptoCompare streamer URL",
)
CC_REST = _doc(
    "CANDLEFLOW_CRYPTOCOMPARE_REST_URL",
    "https://min-api.cryptocompare.com",
    "CryptoCompare REST base URL (backfill)",
)
CC_PAIRS = _doc(
    "CANDLEFLOW_CRYPTOCOMPARE_PAIRS",
    "Coinbase:BTC/USD,Coinbase:ETH/USD",
    "symbols the live client subscribes to",
)
MA_PERIODS = _doc("CANDLEFLOW_MA_PERIODS", "20,50,200", "SMA and EMA periods kept per series")
CROSSOVER = _doc("CANDLEFLOW_CROSSOVER", "20,50", "fast,slow SMA periods whose crossings become marks")
BATCH_MAX = _doc("CANDLEFLOW_BATCH_MAX", "10000", "ticks per engine batch at most")
BATCH_WITHIN = _doc("CANDLEFLOW_BATCH_WITHIN", "0.2", "seconds an engine batch may gather at most")
FUTURE_TOLERANCE = _doc(
    "CANDLEFLOW_FUTURE_TOLERANCE", "300", "seconds a tick may lie in the future before it is rejected"
)
SSE_MAX_CLIENTS = _doc("CANDLEFLOW_SSE_MAX_CLIENTS", "5000", "SSE connections per web process; more get 503")
SSE_QUEUE = _doc("CANDLEFLOW_SSE_QUEUE", "64", "pending bars per SSE client before it is dropped")
SSE_HEARTBEAT = _doc("CANDLEFLOW_SSE_HEARTBEAT", "15", "seconds between SSE heartbeat comments")
MAX_COUNTBACK = _doc("CANDLEFLOW_MAX_COUNTBACK", "20000", "largest countback /udf/history accepts")
MAX_SPAN = _doc("CANDLEFLOW_MAX_SPAN_BARS", "100000", "most bars one history request may span")
LOG_LEVEL = _doc("CANDLEFLOW_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
STACK_DIR = _doc("CANDLEFLOW_STACK_DIR", ".stack (in the clone)", "data, logs and jars of the local stack")
STACK_KAFKA_PORT = _doc("CANDLEFLOW_STACK_KAFKA_PORT", "0", "port of the local broker; 0 picks a free one")
STACK_PG_PORT = _doc("CANDLEFLOW_STACK_PG_PORT", "0", "port of the local PostgreSQL; 0 picks a free one")


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "localhost:9092"
    database_url: str = "postgresql://candleflow@localhost:5432/candleflow"
    app_id: str = "candleflow"
    web_host: str = "0.0.0.0"
    web_port: int = 6066
    ticks_topic: str = "ticks.raw"
    dead_topic: str = "ticks.dead"
    updates_topic: str = "bars.updates"
    ticks_partitions: int = 8
    source: str = "none"
    synthetic_symbols: tuple[str, ...] = ()
    synthetic_rate: float = 20.0
    synthetic_seed: int = 1
    cryptocompare_api_key: str = ""
    cryptocompare_url: str = "wss://streamer.cryptocompare.com/v2"
    cryptocompare_rest_url: str = "https://min-api.cryptocompare.com"
    cryptocompare_pairs: tuple[str, ...] = ()
    ma_periods: tuple[int, ...] = (20, 50, 200)
    crossover: tuple[int, int] = (20, 50)
    batch_max: int = 10000
    batch_within: float = 0.2
    future_tolerance: float = 300.0
    sse_max_clients: int = 5000
    sse_queue: int = 64
    sse_heartbeat: float = 15.0
    max_countback: int = 20000
    max_span_bars: int = 100000
    log_level: str = "INFO"
    stack_dir: Path = field(default_factory=lambda: Path(".stack"))
    stack_kafka_port: int = 0
    stack_pg_port: int = 0

    @property
    def kafka_url(self) -> str:
        """The broker list in Faust's `kafka://` form."""
        return ";".join(f"kafka://{s.strip()}" for s in self.kafka_bootstrap.split(","))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        source = _read(env, SOURCE, "none", _choice(SOURCES), "one of " + ", ".join(SOURCES))
        api_key = env.get(CC_KEY, "").strip()
        if source == "cryptocompare" and not api_key:
            raise ConfigError(
                f"{SOURCE}=cryptocompare needs {CC_KEY}: set it to your CryptoCompare API key "
                f"or choose {SOURCE}=synthetic"
            )
        ma_periods = _read(env, MA_PERIODS, "20,50,200", _periods, "comma-separated positive integers")
        crossover = _read(env, CROSSOVER, "20,50", _pair, "two integers 'fast,slow' with fast < slow")
        missing = [p for p in crossover if p not in ma_periods]
        if missing:
            raise ConfigError(
                f"{CROSSOVER}={','.join(map(str, crossover))} uses periods {missing} that "
                f"{MA_PERIODS}={','.join(map(str, ma_periods))} does not keep: add them there"
            )
        return cls(
            kafka_bootstrap=_read(env, KAFKA, "localhost:9092", _bootstrap, "host:port[,host:port...]"),
            database_url=_read(
                env,
                DATABASE,
                "postgresql://candleflow@localhost:5432/candleflow",
                _database_url,
                "a postgresql:// URL",
            ),
            app_id=_read(env, APP_ID, "candleflow", _identifier, "letters, digits, '.', '_' or '-'"),
            web_host=_read(env, WEB_HOST, "0.0.0.0", _nonempty, "a host name or address"),
            web_port=_read(env, WEB_PORT, "6066", _port, "a port number 0-65535"),
            ticks_topic=_read(env, TICKS_TOPIC, "ticks.raw", _identifier, "a Kafka topic name"),
            dead_topic=_read(env, DEAD_TOPIC, "ticks.dead", _identifier, "a Kafka topic name"),
            updates_topic=_read(env, UPDATES_TOPIC, "bars.updates", _identifier, "a Kafka topic name"),
            ticks_partitions=_read(env, PARTITIONS, "8", _positive_int, "a positive integer"),
            source=source,
            synthetic_symbols=_read(
                env,
                SYNTH_SYMBOLS,
                "Coinbase:BTC/USD,Coinbase:ETH/USD,Kraken:SOL/USD,Binance:DOGE/USDT",
                _symbols,
                "comma-separated symbols written Exchange:BASE/QUOTE",
            ),
            synthetic_rate=_read(env, SYNTH_RATE, "20", _positive_float, "a positive number"),
            synthetic_seed=_read(env, SYNTH_SEED, "1", int, "an integer"),
            cryptocompare_api_key=api_key,
            cryptocompare_url=_read(
                env, CC_URL, "wss://streamer.cryptocompare.com/v2", _ws_url, "a ws:// or wss:// URL"
            ),
            cryptocompare_rest_url=_read(
                env, CC_REST, "https://min-api.cryptocompare.com", _http_url, "an http(s):// URL"
            ),
            cryptocompare_pairs=_read(
                env,
                CC_PAIRS,
                "Coinbase:BTC/USD,Coinbase:ETH/USD",
                _symbols,
                "comma-separated symbols written Exchange:BASE/QUOTE",
            ),
            ma_periods=ma_periods,
            crossover=crossover,
            batch_max=_read(env, BATCH_MAX, "10000", _positive_int, "a positive integer"),
            batch_within=_read(env, BATCH_WITHIN, "0.2", _positive_float, "a positive number of seconds"),
            future_tolerance=_read(env, FUTURE_TOLERANCE, "300", _non_negative_float, "seconds >= 0"),
            sse_max_clients=_read(env, SSE_MAX_CLIENTS, "5000", _positive_int, "a positive integer"),
            sse_queue=_read(env, SSE_QUEUE, "64", _positive_int, "a positive integer"),
            sse_heartbeat=_read(env, SSE_HEARTBEAT, "15", _positive_float, "a positive number of seconds"),
            max_countback=_read(env, MAX_COUNTBACK, "20000", _positive_int, "a positive integer"),
            max_span_bars=_read(env, MAX_SPAN, "100000", _positive_int, "a positive integer"),
            log_level=_read(env, LOG_LEVEL, "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR"),
            stack_dir=_read(env, STACK_DIR, str(default_stack_dir()), Path, "a directory path"),
            stack_kafka_port=_read(env, STACK_KAFKA_PORT, "0", _port, "a port number (0 = any free port)"),
            stack_pg_port=_read(env, STACK_PG_PORT, "0", _port, "a port number (0 = any free port)"),
        )


def _identifier(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._\-]{1,200}", raw):
        raise ValueError(raw)
    return raw


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError(raw)
    return raw


def _ws_url(raw: str) -> str:
    if not re.match(r"wss?://", raw):
        raise ValueError(raw)
    return raw


def _http_url(raw: str) -> str:
    if not re.match(r"https?://", raw):
        raise ValueError(raw)
    return raw


def _symbols(raw: str) -> tuple[str, ...]:
    from candleflow.symbols import parse_symbol

    values = _list(raw)
    for value in values:
        parse_symbol(value)
    return values


def default_stack_dir() -> Path:
    """`.stack/` at the root of the clone this package lives in, else in the current directory."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").exists():
        return root / ".stack"
    return Path.cwd() / ".stack"
