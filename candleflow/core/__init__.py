"""General plumbing of every command, above the domain and below the pipeline.

Settings, logging, metrics, the bundled files, the progress line, the shared click
option types, and the engine status `/healthz` reads.
"""
