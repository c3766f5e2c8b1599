-- Marks of any signal (candleflow.functions), not only the SMA crossover: each mark names
-- the signal that made it (`signal`, its key such as 'crossover(fast=20,slow=50)') and
-- carries its own label, text and tone, so one bar may hold a mark of every signal.
-- Existing crossover marks are converted in place. Indicator values need no change:
-- a function's lines are stored under `kind` (its name, line and non-period parameters)
-- and `period`. Idempotent.
ALTER TABLE marks ADD COLUMN IF NOT EXISTS signal text NOT NULL DEFAULT '';
ALTER TABLE marks ADD COLUMN IF NOT EXISTS label text NOT NULL DEFAULT '';
ALTER TABLE marks ADD COLUMN IF NOT EXISTS text text NOT NULL DEFAULT '';
ALTER TABLE marks ADD COLUMN IF NOT EXISTS tone text NOT NULL DEFAULT 'neutral';  -- up, down or neutral

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'marks' AND column_name = 'fast') THEN
        UPDATE marks SET
            signal = format('crossover(fast=%s,slow=%s)', fast, slow),
            label = CASE kind WHEN 'golden_cross' THEN 'G' ELSE 'D' END,
            tone = CASE kind WHEN 'golden_cross' THEN 'up' ELSE 'down' END,
            text = CASE kind
                WHEN 'golden_cross' THEN format('Golden cross: SMA%s crossed above SMA%s at %s', fast, slow, price)
                ELSE format('Death cross: SMA%s crossed below SMA%s at %s', fast, slow, price) END
        WHERE signal = '';
        ALTER TABLE marks DROP COLUMN fast, DROP COLUMN slow;
    END IF;
END
$$;

ALTER TABLE marks DROP CONSTRAINT IF EXISTS marks_pkey;
CREATE UNIQUE INDEX IF NOT EXISTS marks_by_signal ON marks (symbol, resolution, bucket, signal);

-- The replay's staging copy (scratch space, truncated by every run): same columns.
DROP TABLE IF EXISTS rebuild_marks;
CREATE UNLOGGED TABLE rebuild_marks (
    symbol      text NOT NULL,
    resolution  text NOT NULL,
    bucket      bigint NOT NULL,
    signal      text NOT NULL,
    kind        text NOT NULL,
    label       text NOT NULL,
    text        text NOT NULL,
    tone        text NOT NULL,
    price       double precision NOT NULL
);
