-- Out-of-band writers (backfill, rebuild) bump `epoch` after changing bars or moving
-- averages; a worker that sees a different epoch drops its in-memory series tails and
-- reloads them from the database instead of continuing from stale EMAs.
ALTER TABLE source_offsets ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
