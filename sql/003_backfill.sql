-- Progress of `candleflow backfill cryptocompare`: per symbol and history endpoint, the
-- span of row times (unix seconds, inclusive) already fetched and written. It grows one
-- page at a time in the same transaction as the page's bars, so an interrupted run
-- continues exactly where it stopped. Idempotent: `candleflow db migrate` may run it again.

CREATE TABLE IF NOT EXISTS backfill_progress (
    symbol      text NOT NULL,                   -- Exchange:BASE/QUOTE
    endpoint    text NOT NULL,                   -- histominute, histohour or histoday
    lower_ts    bigint NOT NULL,                 -- oldest row time done (the next page's toTs)
    upper_ts    bigint NOT NULL,                 -- newest row time done
    pages       bigint NOT NULL DEFAULT 0,       -- pages fetched into this span
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, endpoint)
);
