"""Per-test databases copied from one migrated template.

Migrating costs a dozen statements and transactions per database; copying a template
is one `CREATE DATABASE ... TEMPLATE` (a file copy inside PostgreSQL). The template is
migrated once per session by `prepare_template` and never connected to afterwards
(PostgreSQL refuses to copy a database that has sessions). A copy keeps the template's
`schema_migrations`, so `candleflow db migrate` and a worker's start-up migrate find
nothing to do, as they would on a migrated database.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg

from candleflow.stack import StackInfo
from candleflow.store.migrate import migrate

TEMPLATE = "candleflow_test_template"


def database_url(stack: StackInfo, name: str) -> str:
    return stack.database_url_of(name)


async def prepare_template(stack: StackInfo) -> None:
    """(Re)create the template database and apply every migration to it."""
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    await migrate(database_url(stack, TEMPLATE))


async def create_database(stack: StackInfo, prefix: str = "test") -> str:
    """A new migrated database (a copy of the template); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return database_url(stack, name)


async def drop_database(stack: StackInfo, url: str) -> None:
    """Drop the database of `url` (a new admin connection: PostgreSQL may have restarted)."""
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def fresh_database(stack: StackInfo, prefix: str = "test") -> AsyncIterator[str]:
    """A migrated database with a unique name for the block; dropped on exit."""
    url = await create_database(stack, prefix)
    try:
        yield url
    finally:
        await drop_database(stack, url)
