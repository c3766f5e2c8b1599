"""Bar Replay: the market of some series re-played from the tick log, from any past time.

`session.Replay` reads `ticks.raw` from a start time (`log`), paces it with a clock the
client controls (`clock`), rebuilds the bars tick by tick as the engine built them and
their indicators and marks as each bar closes (`series`), and says what happened as
events (`events`). The replays of a process share the chunks of the log they read
(`chunks`) and are capped in number (`registry`). Served by `candleflow.web` as `/udf/replay` (see docs/web.md).
"""
