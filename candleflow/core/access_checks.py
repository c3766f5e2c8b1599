"""Access settings that do not fit together (`Settings` refuses them at start), each
problem saying what to fix: a token mode without a way to verify tokens, a secret too
short to resist guessing, token settings given while access is open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from candleflow.core.casts import variable


class AccessSettings(Protocol):
    """The fields of `Settings` these checks read."""

    @property
    def access(self) -> str: ...
    @property
    def token_secret(self) -> str: ...
    @property
    def token_public_keys(self) -> str: ...
    @property
    def token_issuer(self) -> str: ...
    @property
    def token_audience(self) -> str: ...


MIN_TOKEN_SECRET_BYTES = 32


def access_problems(settings: AccessSettings) -> list[str]:
    """What is wrong with the access settings, each saying what to fix."""
    mode = f"{variable('access')}={settings.access}"
    secret, keys = variable("token_secret"), variable("token_public_keys")
    given = [variable(n) for n in ("token_secret", "token_public_keys", "token_issuer", "token_audience")
             if getattr(settings, n)]  # fmt: skip
    if settings.access == "open":
        if given:
            return [f"{' and '.join(given)} set but {mode}: set {variable('access')}=tokens, or unset them"]
        return []
    problems = []
    if not settings.token_secret and not settings.token_public_keys:
        problems.append(
            f"{mode} needs {secret} (at least {MIN_TOKEN_SECRET_BYTES} bytes) or {keys} (a PEM or JWKS file)"
        )
    elif settings.token_secret and settings.token_public_keys:
        problems.append(f"{secret} and {keys} are both set: tokens are verified with one of them, unset the other")
    elif settings.token_secret and len(settings.token_secret.encode()) < MIN_TOKEN_SECRET_BYTES:
        problems.append(
            f"{secret} is {len(settings.token_secret.encode())} bytes: use at least {MIN_TOKEN_SECRET_BYTES} "
            "random bytes (e.g. `openssl rand -base64 48`)"
        )
    elif settings.token_public_keys and not Path(settings.token_public_keys).is_file():
        problems.append(f"{keys}={settings.token_public_keys}: no such file (give a PEM or JWKS file)")
    return problems
