-- Staging tables of `candleflow replay` (candleflow/maintenance/rebuild): the rebuilt bars, moving
-- averages and marks are COPYed here first, then swapped into the live tables in one
-- transaction. Each run truncates them first, so an interrupted run leaves nothing that
-- matters. UNLOGGED: they are scratch space, not worth WAL. Buckets are epoch ms here
-- (COPY without a datetime per row); the swap converts them. Idempotent.

CREATE UNLOGGED TABLE IF NOT EXISTS rebuild_bars (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    bucket      bigint NOT NULL,                 -- bucket start, ms since the epoch (UTC)
    open        double precision NOT NULL,
    high        double precision NOT NULL,
    low         double precision NOT NULL,
    close       double precision NOT NULL,
    volume      numeric NOT NULL,
    trades      bigint NOT NULL,
    open_ts     bigint NOT NULL,
    open_seq    bigint NOT NULL,
    close_ts    bigint NOT NULL,
    close_seq   bigint NOT NULL
);

CREATE UNLOGGED TABLE IF NOT EXISTS rebuild_indicators (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    kind        text NOT NULL,
    period      integer NOT NULL,
    bucket      bigint NOT NULL,
    value       double precision NOT NULL
);

CREATE UNLOGGED TABLE IF NOT EXISTS rebuild_marks (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    bucket      bigint NOT NULL,
    kind        text NOT NULL,
    fast        integer NOT NULL,
    slow        integer NOT NULL,
    price       double precision NOT NULL
);
