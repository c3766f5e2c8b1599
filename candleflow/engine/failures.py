"""What a failed batch commit means, and so what the runner does with it.

* **outage**: the database or the broker cannot answer now (connection refused or lost,
  a timeout, the server shutting down or out of resources, a deadlock or serialisation
  failure, candleflow's own `Unavailable`: a connection that could not be opened), or
  the store itself is broken for every record alike (a missing table or function, a
  permission): nothing about the batch is wrong. Retried with backoff for as
  long as it lasts; readiness says so meanwhile.
* **refusal**: the database (or the engine's own code on the way to it) refused the
  data: a value out of range, an invalid encoding, a constraint, a program limit, a
  `ValueError` or arithmetic error. The same records fail the same way every time, so
  the runner splits the batch until it has found them and dead-letters those.
* **fault**: anything else (an engine bug?). Retried `FAULT_RETRIES` times in case it
  passes, then treated as a refusal: a failure that repeats is never retried forever.

Classes are read from the PostgreSQL SQLSTATE (its first two characters) where there is
one, else from the exception type.
"""

from __future__ import annotations

import enum

import asyncpg
from aiokafka.errors import KafkaError
from asyncpg.exceptions import _base as asyncpg_base

from candleflow.domain.exceptions import Unavailable

#: Attempts of a batch that fails with a fault before it is split like a refused one.
FAULT_RETRIES = 3


class Failure(enum.Enum):
    OUTAGE = "outage"
    REFUSAL = "refusal"
    FAULT = "fault"


#: SQLSTATE classes of an unavailable or broken store: connection (08), resources (53),
#: operator intervention (57), system (58), rollback (40), object state (55, a lock not
#: available), internal (XX), syntax or access (42), authorization (28), catalog (3D),
#: schema (3F), unsupported feature (0A), transaction state (25), configuration (F0).
OUTAGE_CLASSES = frozenset({"08", "53", "57", "58", "40", "55", "XX", "42", "28", "3D", "3F", "0A", "25", "F0"})
#: SQLSTATE classes of refused data: data exception (22), integrity constraint (23),
#: program limit (54), routine exceptions (2F, 38, 39), PL/pgSQL raise (P0).
REFUSAL_CLASSES = frozenset({"22", "23", "54", "2F", "38", "39", "P0"})


def classify(exc: BaseException) -> Failure:
    """The kind of failure `exc` is (see the module docstring)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")[:2]
        if state in OUTAGE_CLASSES:
            return Failure.OUTAGE
        if state in REFUSAL_CLASSES:
            return Failure.REFUSAL
        return Failure.FAULT
    if isinstance(exc, ValueError | ArithmeticError | UnicodeError):  # asyncpg's argument DataError too
        return Failure.REFUSAL
    if isinstance(
        exc,
        Unavailable
        | OSError
        | TimeoutError
        | asyncpg.InterfaceError
        | asyncpg_base.OutdatedSchemaCacheError
        | KafkaError,
    ):
        return Failure.OUTAGE
    return Failure.FAULT


def describe(exc: BaseException) -> str:
    """`exc` as a reason: its type, SQLSTATE when it has one, and message (at most 300 characters)."""
    state = getattr(exc, "sqlstate", None)
    name = type(exc).__name__ if not state else f"{type(exc).__name__} ({state})"
    text = f"{name}: {exc}"
    return text if len(text) <= 300 else text[:300] + "..."
