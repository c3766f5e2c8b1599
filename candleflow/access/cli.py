"""`candleflow token issue`: an access token for one holder, signed with the secret the
web processes verify with (`CANDLEFLOW_TOKEN_SECRET`).

    candleflow token issue --holder alice --symbols 'Coinbase:*' --ttl 1d
    candleflow token issue --holder ops --admin --ttl 12h

It prints the token alone on stdout, so `TOKEN=$(candleflow token issue …)` works.
Tokens of an identity provider (`CANDLEFLOW_TOKEN_PUBLIC_KEYS`) are issued by that
provider, not here.
"""

from __future__ import annotations

import click

from candleflow.core import command
from candleflow.core.cli_options import DURATION
from candleflow.core.settings import variable
from candleflow.domain.exceptions import ConfigError


@click.group()
def token() -> None:
    """Access tokens for CANDLEFLOW_ACCESS=tokens (SECURITY.md)."""


@token.command()
@click.option("--holder", required=True, help="Who the token is for (its `sub`); streams belong to it.")
@click.option(
    "--symbols",
    multiple=True,
    help="Symbol patterns it may read, comma-separated or repeated: Coinbase:BTC/USD, Coinbase:*, *:BTC/*, *.",
)
@click.option("--ttl", type=DURATION, default="1d", show_default=True, help="Lifetime: 3600, 90s, 15m, 12h, 1d, 2w.")
@click.option("--admin", is_flag=True, help="Also opens the admin surface (/metrics, detailed /healthz).")
def issue(holder: str, symbols: tuple[str, ...], ttl: float, admin: bool) -> None:
    """Print a signed access token (HS256, with CANDLEFLOW_TOKEN_SECRET)."""
    from candleflow.access import tokens

    patterns = [part.strip() for given in symbols for part in given.split(",") if part.strip()]

    def main(run: command.Invocation) -> None:
        settings = run.settings
        if not settings.token_secret:
            raise ConfigError(
                f"candleflow token issue signs with {variable('token_secret')}: set it to the secret the web "
                f"processes verify with (and {variable('access')}=tokens); tokens verified with "
                f"{variable('token_public_keys')} come from your identity provider"
            )
        try:
            signed = tokens.issue(
                settings.token_secret.encode(),
                holder,
                patterns,
                ttl,
                admin=admin,
                issuer=settings.token_issuer or None,
                audience=settings.token_audience or None,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        click.echo(signed)

    command.run(main, name="candleflow token issue")
