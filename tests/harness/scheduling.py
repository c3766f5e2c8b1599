"""Which pytest-xdist worker runs which test file: one worker runs every file that uses the
secured stack, so that `make test` starts one secured stack (a broker with three secured
listeners, PostgreSQL with TLS and its streaming replica: about 15 s of both cores), not
one on each worker that happens to draw such a file. Every other file is spread as
`--dist loadfile` spreads it."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from xdist.scheduler import LoadFileScheduling

#: The files whose tests use the secured stack (`secured_stack_control`, and the
#: fixtures built on it), relative to the root directory as in pytest's node ids.
SECURED_FILES = frozenset(
    {
        "tests/integration/stack/test_secured.py",
        "tests/integration/test_topology.py",
        "tests/integration/web/test_replica_reads.py",
    }
)
SECURED_SCOPE = "secured stack"


class SecuredTogether(LoadFileScheduling):  # type: ignore[misc]  # xdist is untyped
    """`--dist loadfile`, with the secured stack's files as one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        return SECURED_SCOPE if scope in SECURED_FILES else scope


def unlisted_secured_files(items: Iterable[pytest.Item]) -> set[str]:
    """Files with a test on the secured stack that `SECURED_FILES` does not name."""
    using = {
        item.nodeid.split("::", 1)[0] for item in items if "secured_stack_control" in getattr(item, "fixturenames", ())
    }
    return using - SECURED_FILES
