"""Where test stacks live and where they find the Kafka jars."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from candleflow.core.settings import default_stack_dir


def jar_cache() -> Path:
    """The shared Kafka jar directory: `$CANDLEFLOW_JAR_CACHE`, else the clone's
    `.stack/kafka/libs` (resolved there once, so test stacks never download again)."""
    configured = os.environ.get("CANDLEFLOW_JAR_CACHE")
    return Path(configured) if configured else default_stack_dir() / "kafka" / "libs"


def temporary_stack_dir(prefix: str = "candleflow-test-stack-") -> Path:
    """A fresh directory under the temp dir that an unprivileged PostgreSQL user can enter
    (pytest's own tmp dirs are 0700 and root-owned when tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
