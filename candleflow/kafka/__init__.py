"""Reading `ticks.raw` outside the engine: bounded offset spans of the log."""
