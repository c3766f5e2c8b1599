"""`candleflow replay`: rebuild bars, moving averages and marks from `ticks.raw`.

The log is read with `candleflow.kafka.log_reader.LogReader` and folded into bars by
`candleflow.domain.fold.TickFolder`, as `db verify` does. One job per module, in the order a
run uses them:

* `window` — what a run covers: the cutoff of `--from`, the offsets to read;
* `series` — moving averages and crossover marks of every rebuilt series;
* `staging` — COPY into the `rebuild_*` tables (sql/005_rebuild.sql);
* `swap` — the one transaction that replaces the live rows and folds in the ticks the
  live engine absorbed meanwhile;
* `run` — the whole run; `cli` — the click command.
"""
