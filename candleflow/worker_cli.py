"""`candleflow worker`: the Faust worker, same as `faust -A candleflow.app worker`."""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Faust worker (extra options go to `faust worker`, e.g. `-l info`)."""
    from candleflow.app import app

    sys.argv = ["candleflow", "worker", *ctx.args]
    app.main()
