"""Does PostgreSQL accept this client? The start-up check of every long-running process.

`check(url, setting)` opens one connection the way the process's `Database` will and
raises `DatabaseRefused` when the server answers but refuses it, saying what to fix: a
server certificate the URL's `sslrootcert` does not sign (or that names another host,
`sslmode=verify-full`), a CA file that is missing, a server without TLS where the URL
asks for it, or a login `pg_hba.conf`, the role or the database refuses. A server that
does not answer at all is not a refusal: a worker waits for it, as it always has.
"""

from __future__ import annotations

import ssl
from urllib.parse import parse_qs, urlsplit

import asyncpg

from candleflow.store.connection import DatabaseUnavailable, connect, redacted

CHECK_TIMEOUT_S = 10.0
#: OpenSSL's verify code for a certificate that names another host.
HOSTNAME_MISMATCH = 62


class DatabaseRefused(DatabaseUnavailable):
    """PostgreSQL answers but refuses this client: the settings must change (the message
    says which)."""


async def check(url: str, setting: str, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """`DatabaseRefused` when the server refuses (see the module docstring); else None when
    it accepted the connection, or why it could not be reached."""
    try:
        connection = await connect(url, connect_timeout=timeout_s)
    except DatabaseUnavailable as exc:
        refused = refusal(url, setting, exc.__cause__ or exc)
        if refused is not None:
            raise DatabaseRefused(refused) from None
        return str(exc)
    await connection.close()
    return None


def refusal(url: str, setting: str, exc: BaseException) -> str | None:
    """Why the server at `url` refused a connection that failed with `exc`, naming what to
    change in `setting`; None when `exc` says it could not be reached."""
    where = f"PostgreSQL at {redacted(url)} ({setting})"
    root = _parameter(url, "sslrootcert")
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == HOSTNAME_MISMATCH:
            return (
                f"{where} presented a certificate for another host ({exc.verify_message}): connect by a name "
                "the certificate holds (sslmode=verify-full checks it)"
            )
        trusted = f"the CA of sslrootcert={root}" if root else "the default root certificates (no sslrootcert)"
        return (
            f"{where} presented a certificate not signed by {trusted} ({exc.verify_message}); set sslrootcert "
            "in the URL to the CA that signs the server's certificate"
        )
    if isinstance(exc, FileNotFoundError) and root:
        return f"{where}: sslrootcert={root} does not exist; give the path of the CA's PEM file"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: the TLS handshake failed ({exc.reason or exc}); check sslmode, sslcert and sslkey in the URL"
    if isinstance(exc, ConnectionError) and "SSL" in str(exc):
        return f"{where} does not offer TLS ({exc}); enable it on the server or lower sslmode in the URL"
    if isinstance(
        exc,
        asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidCatalogNameError,
    ):
        return f"{where} refused the login: {exc}; check the user, password, database and sslmode in the URL"
    return None


def _parameter(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None
