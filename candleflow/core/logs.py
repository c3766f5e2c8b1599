"""Logging of every candleflow command at `CANDLEFLOW_LOG_LEVEL`.

`candleflow <command>` configures the root logger before the command runs; the Faust
worker (`candleflow worker` or `faust -A candleflow.app worker`) sets up its own
logging, so the app hands it the same level through `worker_loglevel` unless
`-l/--loglevel` was given on its command line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Chatty client libraries log at WARNING at least, whatever the level.
QUIET = ("aiokafka", "kafka")


def configure(level: str) -> None:
    """Root logging to stderr at `level` (a name such as `INFO`)."""
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT)
    logging.getLogger().setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def loglevel_given(argv: Sequence[str]) -> bool:
    """True when a Faust command line sets `-l`/`--loglevel` itself."""
    return any(
        arg in ("-l", "--loglevel") or arg.startswith("--loglevel=") or (arg.startswith("-l") and arg[2:].isalpha())
        for arg in argv
    )


def worker_loglevel(cli_level: str | None, configured: str, argv: Sequence[str]) -> str:
    """The Faust worker's level: the command line's when given, else `configured`."""
    if cli_level and loglevel_given(argv):
        return cli_level
    return configured
