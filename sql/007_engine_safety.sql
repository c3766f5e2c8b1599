-- What keeps the engine going whatever arrives, and pricescale free of outliers.
-- Idempotent: `candleflow db migrate` may run it again.

-- The engine's dead-letter outbox (candleflow.engine.outbox): a batch's rejected records
-- are stored here in the batch's own transaction, together with the ledger advance past
-- them, and published to ticks.dead after the commit; a row is deleted once the broker
-- has acknowledged its record. `attempts` > 0 means a publish may have reached the broker
-- (a crash between send and delete), so the row is first looked for on ticks.dead.
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer      text NOT NULL,                 -- the engine's app id
    topic         text NOT NULL,                 -- the ticks topic the record was read from
    partition     integer NOT NULL,
    source_offset bigint NOT NULL,               -- the record's offset in that partition
    key           bytea,                         -- the dead letter's key (the record's, cut)
    value         bytea NOT NULL,                -- the dead letter (bounded JSON)
    attempts      integer NOT NULL DEFAULT 0,
    attempted_at  double precision,              -- unix seconds of the last send, sender's clock
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, source_offset)
);

-- pricescale (candleflow.domain.pricescale): how many recent prices had each number of
-- decimal places, and the explicit tick size of the latest tick that carried one.
-- `price_decimals` is now derived from these in the symbols upsert.
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS decimal_counts bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS tick_size text;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS tick_decimals integer;
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS tick_minmov integer;

-- `held` (halved first when both together exceed `keep`) plus `more`, element-wise:
-- candleflow.domain.pricescale.merge_counts.
CREATE OR REPLACE FUNCTION candleflow_add_counts(held bigint[], more bigint[], keep bigint)
RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(
               CASE WHEN t.total > keep THEN coalesce(u.h, 0) / 2 ELSE coalesce(u.h, 0) END + coalesce(u.m, 0)
               ORDER BY u.i), '{}')
    FROM unnest(held, more) WITH ORDINALITY AS u(h, m, i),
         (SELECT coalesce((SELECT sum(x) FROM unnest(held) AS x), 0)
               + coalesce((SELECT sum(x) FROM unnest(more) AS x), 0) AS total) AS t
$$;

-- The fewest decimal places that cover `share` of the counted prices (0 when none):
-- candleflow.domain.pricescale.covering_decimals.
CREATE OR REPLACE FUNCTION candleflow_decimals(counts bigint[], share double precision)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(min(s.places), 0)::integer FROM (
        SELECT (u.i - 1) AS places,
               sum(u.c) OVER (ORDER BY u.i) AS running,
               sum(u.c) OVER () AS total
        FROM unnest(counts) WITH ORDINALITY AS u(c, i)
    ) AS s
    WHERE s.total > 0 AND s.running >= share * s.total
$$;
