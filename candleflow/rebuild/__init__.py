"""`candleflow replay`: rebuild bars, moving averages and marks from `ticks.raw`.

One job per module, in the order a run uses them:

* `window` — what a run covers: the cutoff of `--from`, the offsets to read;
* `log_reader` — bulk reads of offset ranges with a bare aiokafka consumer;
* `builder` — decoding and in-memory aggregation into 1-second bars, then every
  resolution (the fast path);
* `series` — moving averages and crossover marks of every rebuilt series;
* `staging` — COPY into the `rebuild_*` tables (sql/005_rebuild.sql);
* `swap` — the one transaction that replaces the live rows and folds in the ticks the
  live engine absorbed meanwhile;
* `run` — the whole run; `cli` — the click command.
"""
