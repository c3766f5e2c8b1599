"""Settings that do not fit together, each problem saying what to fix (`Settings` refuses
them at start, all at once): Kafka's security protocol against its TLS files and SASL
account, and the access mode against the ways of verifying tokens (a token mode without
a way to verify them, a secret too short to resist guessing, token settings given while
access is open).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from candleflow.core.casts import variable


class KafkaSecuritySettings(Protocol):
    """The fields of `Settings` the Kafka checks read."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_ssl_cafile(self) -> str: ...
    @property
    def kafka_ssl_certfile(self) -> str: ...
    @property
    def kafka_ssl_keyfile(self) -> str: ...
    @property
    def kafka_ssl_key_password(self) -> str: ...
    @property
    def kafka_sasl_username(self) -> str: ...
    @property
    def kafka_sasl_password(self) -> str: ...


def kafka_security_problems(settings: KafkaSecuritySettings) -> list[str]:
    """What is wrong with the Kafka security settings, each saying what to fix."""
    protocol = settings.kafka_security_protocol
    tls, sasl = protocol.endswith("SSL"), protocol.startswith("SASL")
    problems = []
    chosen = f"{variable('kafka_security_protocol')}={protocol}"
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        path = getattr(settings, name)
        if not path:
            continue
        if not tls:
            problems.append(f"{variable(name)} is set but {chosen} uses no TLS: choose SSL or SASL_SSL, or unset it")
        elif not Path(path).is_file():
            problems.append(f"{variable(name)}={path}: no such file (give the path of a PEM file)")
    if settings.kafka_ssl_keyfile and not settings.kafka_ssl_certfile:
        problems.append(f"{variable('kafka_ssl_keyfile')} needs {variable('kafka_ssl_certfile')}, the certificate")
    if settings.kafka_ssl_key_password and not settings.kafka_ssl_certfile:
        problems.append(f"{variable('kafka_ssl_key_password')} is set without a client certificate: unset it")
    account = [variable(n) for n in ("kafka_sasl_username", "kafka_sasl_password") if getattr(settings, n)]
    if sasl and len(account) < 2:
        missing = {variable("kafka_sasl_username"), variable("kafka_sasl_password")} - set(account)
        problems.append(f"{chosen} needs {' and '.join(sorted(missing))}: set the broker account's credentials")
    elif account and not sasl:
        problems.append(
            f"{' and '.join(account)} set but {chosen} does not log in: choose SASL_PLAINTEXT or SASL_SSL, or unset"
        )
    return problems


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
