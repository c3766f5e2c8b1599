-- Core schema: symbols, bars, moving averages, crossover marks and the engine's
-- source offsets. Plain PostgreSQL; 002 upgrades bars when TimescaleDB is present.
-- Every statement is idempotent: `candleflow db migrate` may run it again.

CREATE TABLE IF NOT EXISTS symbols (
    symbol          text PRIMARY KEY,            -- Exchange:BASE/QUOTE
    exchange        text NOT NULL,
    base            text NOT NULL,
    quote           text NOT NULL,
    price_decimals  integer NOT NULL DEFAULT 0,  -- most decimals seen in a price: pricescale = 10^this
    first_tick      timestamptz NOT NULL,
    last_tick       timestamptz NOT NULL
);

-- One row per (symbol, resolution, bucket). open/close carry the event time and the
-- log offset of the tick that set them, so that merging a late tick (or a batch) into
-- a stored bar is exact: open = earliest (ts, seq), close = latest (ts, seq).
CREATE TABLE IF NOT EXISTS bars (
    symbol      text NOT NULL,
    resolution  text NOT NULL,                   -- canonical code: 1S 1 5 15 30 60 240 1D 1W 1M
    bucket      timestamptz NOT NULL,            -- bucket start, UTC
    open        double precision NOT NULL,
    high        double precision NOT NULL,
    low         double precision NOT NULL,
    close       double precision NOT NULL,
    volume      numeric NOT NULL,                -- exact sum of quantities
    trades      bigint NOT NULL,
    open_ts     bigint NOT NULL,                 -- ms of the opening tick
    open_seq    bigint NOT NULL,                 -- its offset in ticks.raw (-1 for REST bars)
    close_ts    bigint NOT NULL,
    close_seq   bigint NOT NULL,
    source      text NOT NULL DEFAULT 'ticks',   -- 'ticks' or 'rest' (backfill)
    PRIMARY KEY (symbol, resolution, bucket)
);

CREATE TABLE IF NOT EXISTS indicators (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    kind        text NOT NULL,                   -- 'sma' or 'ema'
    period      integer NOT NULL,
    bucket      timestamptz NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (symbol, resolution, kind, period, bucket)
);

CREATE TABLE IF NOT EXISTS marks (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    bucket      timestamptz NOT NULL,
    kind        text NOT NULL,                   -- 'golden_cross' (fast above slow) or 'death_cross'
    fast        integer NOT NULL,
    slow        integer NOT NULL,
    price       double precision NOT NULL,       -- close of the bar where the cross happened
    PRIMARY KEY (symbol, resolution, bucket)
);

-- The engine's effectively-once ledger: the next ticks.raw offset each partition
-- expects, committed in the same transaction as the bars those ticks changed.
CREATE TABLE IF NOT EXISTS source_offsets (
    consumer    text NOT NULL,                   -- app id (or a replay run's id)
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
