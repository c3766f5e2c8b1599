"""Kafka: the one client configuration (`config`), the only place clients are built
(`clients`), the table of topics (`topics`), and the log's readers outside the engine
(`log_reader`, `follow`)."""
