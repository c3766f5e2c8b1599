"""`/openapi.json` is accurate: a Schemathesis run with every check against a seeded
worker finds no server error, no answer (status, content type, headers, body) the schema
does not describe, no request the schema allows that is refused (positive data
acceptance; 404 `unknown_symbol` counts as accepted) and no request it forbids that is
answered. `/udf/stream` is left out: a fuzzer cannot end an endless stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from candleflow.stack import StackInfo
from tests.harness import WorkerFactory
from tests.harness.databases import drop_database
from tests.harness.udf_seed import seed, start_worker

pytestmark = pytest.mark.integration


def readable(output: str) -> str:
    """Schemathesis' report with each line cut short (a failing case may be a huge URL)."""
    return "\n".join(
        line if len(line) < 400 else f"{line[:400]} ... ({len(line)} chars)" for line in output.splitlines()
    )


def schemathesis_cli() -> str:
    return str(Path(sys.executable).parent / "st")


async def test_openapi_lists_every_endpoint_and_schemathesis_finds_nothing(
    stack: StackInfo, worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    seeded = await seed(stack)
    try:
        worker, _ = await asyncio.to_thread(start_worker, worker_factory, stack, seeded.database_url)
        async with aiohttp.ClientSession() as session, session.get(f"{worker.url}/openapi.json") as response:
            assert response.status == 200
            spec = await response.json()
        assert spec["openapi"].startswith("3.0")
        expected = {
            "/udf/config", "/udf/symbols", "/udf/search", "/udf/history", "/udf/time", "/udf/quotes",
            "/udf/marks", "/udf/timescale_marks", "/udf/stream", "/api/indicators", "/healthz", "/livez", "/metrics",
            "/openapi.json", "/",
        }  # fmt: skip
        assert expected <= set(spec["paths"])
        command = [
            schemathesis_cli(),
            "run",
            f"{worker.url}/openapi.json",
            "--checks",
            "all",
            "--exclude-path",
            "/udf/stream",
            "--max-examples",
            os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"),  # kept small: this runs in `make test`
            "--seed",
            "20241124",
            "--request-timeout",
            "10",
        ]
        result = await asyncio.to_thread(
            subprocess.run, command, cwd=tmp_path, capture_output=True, text=True, timeout=400, check=False
        )
        print(readable(result.stdout))  # shown with -s or -rP: phases, timings, counts
        assert result.returncode == 0, readable(result.stdout)[-8000:] + result.stderr[-2000:]
    finally:
        await drop_database(stack, seeded.database_url)
