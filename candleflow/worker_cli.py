"""`candleflow worker`: the Faust worker, same as `faust -A candleflow.app worker`.

`--role` (or `CANDLEFLOW_ROLE`) chooses what it runs: `all` (the engine and the web
tier, the default), `engine` (the engine; its web port serves only `/healthz`, `/livez`
and `/metrics`) or `web` (the web tier without Faust: the same as `candleflow web`).
"""

from __future__ import annotations

import os
import sys

import click

from candleflow.core.settings import ROLES, variable


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--role",
    type=click.Choice(ROLES),
    help="all (engine and web, the default), engine, or web (no Faust); overrides CANDLEFLOW_ROLE.",
)
@click.pass_context
def worker(ctx: click.Context, role: str | None) -> None:
    """Run a Faust worker (extra options go to `faust worker`, e.g. `-l info`)."""
    if role is not None:
        os.environ[variable("role")] = role
    if (role or os.environ.get(variable("role"), "").strip().lower()) == "web":
        if ctx.args:
            raise click.UsageError(f"a web process runs no Faust worker: {' '.join(ctx.args)} do not apply")
        from candleflow.web_cli import run_web_tier

        run_web_tier("candleflow worker --role web")
    from candleflow.app import app

    sys.argv = ["candleflow", "worker", *ctx.args]
    app.main()
