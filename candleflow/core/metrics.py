"""Prometheus metrics of a candleflow process, one registry for all layers.

Every counter, gauge and histogram is declared here so that `/metrics` documents the
whole process in one place and no layer registers a name twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

TICKS_ACCEPTED = Counter("candleflow_ticks_accepted", "Ticks published to ticks.raw", ["source"], registry=REGISTRY)
TICKS_REJECTED = Counter("candleflow_ticks_rejected", "Ticks sent to ticks.dead", ["source"], registry=REGISTRY)
FEED_CONNECTED = Gauge(
    "candleflow_feed_connected",
    "1 while a feed's connection for a market is up, 0 while it is down",
    ["source", "symbol"],
    registry=REGISTRY,
)
FEED_LAST_TRADE = Gauge(
    "candleflow_feed_last_trade_timestamp_seconds",
    "Unix time of the last trade a feed published for a market",
    ["source", "symbol"],
    registry=REGISTRY,
)
FEED_RECONNECTS = Counter(
    "candleflow_feed_reconnects",
    "Connections of a feed lost or refused (each is reopened)",
    ["source"],
    registry=REGISTRY,
)
FEED_NOT_UNDERSTOOD = Counter(
    "candleflow_feed_frames_not_understood",
    "Frames a feed's client could not read (logged with their start)",
    ["source"],
    registry=REGISTRY,
)
FEED_DUPLICATES = Counter(
    "candleflow_feed_duplicates",
    "Trades dropped because the process had published them already (replays, snapshots, two feeds of a market)",
    ["source"],
    registry=REGISTRY,
)
TICKS_PROCESSED = Counter(
    "candleflow_engine_ticks_processed", "Ticks absorbed into bars by the engine", registry=REGISTRY
)
TICKS_DUPLICATE = Counter(
    "candleflow_engine_ticks_redelivered",
    "Ticks skipped because the ledger shows them absorbed already (re-delivery)",
    registry=REGISTRY,
)
TICKS_LATE = Counter(
    "candleflow_engine_ticks_late",
    "Ticks that changed a bar older than the newest bar of their series",
    registry=REGISTRY,
)
BARS_WRITTEN = Counter("candleflow_engine_bars_written", "Bar rows upserted", ["resolution"], registry=REGISTRY)
BATCH_SIZE = Histogram(
    "candleflow_engine_batch_ticks",
    "Ticks per engine batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000),
    registry=REGISTRY,
)
WRITE_SECONDS = Histogram(
    "candleflow_engine_write_seconds",
    "Time of one batch transaction (bars, indicators, marks, ledger)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WRITE_RETRIES = Counter(
    "candleflow_engine_write_retries", "Batch transactions retried after a database error", registry=REGISTRY
)
FUNCTION_ERRORS = Counter(
    "candleflow_function_errors",
    "Bars a user-defined function failed at (exception or non-finite value), per function",
    ["function"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "candleflow_engine_consumer_lag",
    "Messages in ticks.raw not yet absorbed (log end offset - ledger next offset), per partition held",
    ["partition"],
    registry=REGISTRY,
)
ENGINE_STALLED = Gauge(
    "candleflow_engine_stalled",
    "1 while the engine is stalled (ticks waiting, the ledger not moving; /healthz says why)",
    registry=REGISTRY,
)
ENGINE_STALLED_SECONDS = Gauge(
    "candleflow_engine_stalled_seconds",
    "How long the longest-stalled partition has made no progress with ticks waiting (0: none stalled)",
    registry=REGISTRY,
)
ENGINE_STALLS = Counter(
    "candleflow_engine_stalls",
    "Times the engine became stalled, by cause: outage (database or broker down), error (commits "
    "failing otherwise), unknown (no error: a lock or a hung connection)",
    ["cause"],
    registry=REGISTRY,
)
ENGINE_OUTAGE = Gauge(
    "candleflow_engine_outage", "1 while the engine's commits fail for an outage and are retried", registry=REGISTRY
)
DEPENDENCY_UP = Gauge(
    "candleflow_dependency_up",
    "1 when the engine monitor's last look at the dependency (kafka, database) succeeded",
    ["dependency"],
    registry=REGISTRY,
)
STORE_REFUSED = Counter(
    "candleflow_engine_store_refused",
    "Records dead-lettered because the database refused them (found by splitting the batch)",
    registry=REGISTRY,
)
BATCH_SPLITS = Counter(
    "candleflow_engine_batch_splits", "Refused batches split in two to find the refused records", registry=REGISTRY
)
DEAD_LETTERS_PENDING = Gauge(
    "candleflow_engine_dead_letters_pending",
    "Dead letters committed to the outbox and not yet acknowledged by the broker",
    registry=REGISTRY,
)
DEAD_LETTERS_PUBLISHED = Counter(
    "candleflow_engine_dead_letters_published", "Dead letters the engine published to ticks.dead", registry=REGISTRY
)
DEAD_LETTERS_FOUND = Counter(
    "candleflow_engine_dead_letters_found",
    "Outbox dead letters found already on ticks.dead after a crash between send and mark (not sent again)",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter("candleflow_http_requests", "HTTP requests served", ["endpoint", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram(
    "candleflow_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
SSE_CLIENTS = Gauge("candleflow_sse_clients", "Connected SSE clients", registry=REGISTRY)
SSE_DROPPED = Counter(
    "candleflow_sse_clients_dropped", "SSE clients disconnected for falling behind", registry=REGISTRY
)
SSE_REJECTED = Counter(
    "candleflow_sse_clients_rejected", "SSE connections refused with 503 (limit reached)", registry=REGISTRY
)
REPLAYS = Gauge("candleflow_replays", "Bar Replays running", registry=REGISTRY)
REPLAYS_REJECTED = Counter(
    "candleflow_replays_rejected", "Bar Replays refused with 503 (CANDLEFLOW_REPLAY_MAX reached)", registry=REGISTRY
)

LIVE_STAGES = ("append_to_read", "read_to_commit", "commit_to_hub", "hub_to_client")
LIVE_STAGE_SECONDS = Histogram(
    "candleflow_live_stage_seconds",
    "Seconds a live bar spends in each stage: append_to_read (tick appended to ticks.raw until the "
    "engine reads it; the oldest tick of each batch), read_to_commit (batch read until its transaction "
    "committed), commit_to_hub (committed until a web process's hub received the update), hub_to_client "
    "(received until written to a client's socket; sampled)",
    ["stage"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
for _stage in LIVE_STAGES:
    LIVE_STAGE_SECONDS.labels(_stage)


def render() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)
