"""`candleflow web`: the web tier alone (`CANDLEFLOW_ROLE=web`), without Faust or an engine.

Start as many as the browsers need; on one host they share the port with
`CANDLEFLOW_WEB_REUSE_PORT=true`. `candleflow worker --role web` runs the same.
"""

from __future__ import annotations

import os

import click

from candleflow.core import command
from candleflow.core.settings import variable


def run_web_tier(name: str) -> None:
    """Check that Kafka and PostgreSQL accept this process, then serve until SIGTERM."""

    async def main(run: command.Invocation) -> None:
        from candleflow import startup
        from candleflow.functions.registry import from_settings
        from candleflow.web.tier import run_web

        functions = from_settings(run.settings)
        await startup.check(run.settings, replica=True)
        await run_web(run.settings, run.stop, functions)

    os.environ[variable("role")] = "web"
    command.run(main, graceful=True, event_loop=True, name=name)


@click.command()
def web() -> None:
    """Serve UDF, SSE, quotes and the chart (no engine): the web tier of CANDLEFLOW_ROLE=web."""
    run_web_tier("candleflow web")
