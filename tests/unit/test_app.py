"""The worker's own behaviour on top of Faust's (`candleflow.app.Worker`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

#: Runs in its own interpreter: building the entry point's app installs the worker's event loop policy.
PROBE = textwrap.dedent(
    """
    import logging
    from candleflow.app import app

    root = logging.getLogger()
    root.handlers[:] = [logging.StreamHandler()]
    root.setLevel(logging.WARNING)
    worker = app.conf.Worker(app, loglevel="warn")
    worker.on_setup_root_logger(root, logging.WARNING)
    print(logging.getLevelName(root.level), [type(h).__name__ for h in root.handlers])
    """
)


def test_a_quiet_worker_keeps_the_root_logger_at_its_level(tmp_path: Path) -> None:
    """Faust's start-up spinner would turn the root logger to DEBUG for good (every library's
    debug call then builds a record nobody prints); the worker keeps WARNING and no spinner."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={"PATH": "/usr/bin:/bin", "CANDLEFLOW_STACK_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "WARNING ['StreamHandler']"


def test_a_web_role_runs_no_faust_worker(tmp_path: Path) -> None:
    """`faust -A candleflow.app worker` with CANDLEFLOW_ROLE=web says what to start instead
    (the web tier has no use for a Faust worker), before it opens anything."""
    done = subprocess.run(
        [sys.executable, "-c", "from candleflow.app import app"],
        env={"PATH": "/usr/bin:/bin", "CANDLEFLOW_STACK_DIR": str(tmp_path), "CANDLEFLOW_ROLE": "web"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "CANDLEFLOW_ROLE=web runs no Faust worker: start the web tier with `candleflow web`" in done.stderr
