"""`/openapi.json` is accurate: a Schemathesis run with every check against the web
application, served in-process with a live hub on a seeded database, finds no server
error, no answer (status, content type, headers, body) the schema does not describe, no
request the schema allows that is refused (positive data acceptance; 404
`unknown_symbol`, `unknown_stream` and `unknown_replay` count as accepted) and no request
it forbids that is answered. The two stream GETs are left out: a fuzzer cannot end an
endless stream (their POSTs are in). `/udf/replay` is in: the test's tick log is empty,
so every replay catches up with the present at once and its stream ends. Every route of
the route table is in the document, and nothing else."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from candleflow.core.settings import Settings
from candleflow.stack import StackInfo
from candleflow.web.routes import UNDOCUMENTED, routes
from tests.harness import Names
from tests.harness.databases import drop_database
from tests.harness.kafka import create_topics
from tests.harness.udf_seed import seed
from tests.harness.web import serving_live

pytestmark = pytest.mark.integration


def readable(output: str) -> str:
    """Schemathesis' report with each line cut short (a failing case may be a huge URL)."""
    return "\n".join(
        line if len(line) < 400 else f"{line[:400]} ... ({len(line)} chars)" for line in output.splitlines()
    )


def schemathesis_cli() -> str:
    return str(Path(sys.executable).parent / "st")


async def test_openapi_lists_every_endpoint_and_schemathesis_finds_nothing(stack: StackInfo, tmp_path: Path) -> None:
    seeded = await seed(stack)
    names = Names.fresh()
    settings = Settings.from_env(names.env(stack, seeded.database_url))
    try:
        await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})  # replays read it (empty)
        async with serving_live(settings) as (server, _):
            await check_schema(server.url, tmp_path)
    finally:
        await drop_database(stack, seeded.database_url)


async def check_schema(url: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/openapi.json") as response:
        assert response.status == 200
        spec = await response.json()
    assert spec["openapi"].startswith("3.0")
    documented = {(path, method.upper()) for path, operations in spec["paths"].items() for method in operations}
    routed = {(path, method) for method, path in routes() if path not in UNDOCUMENTED}
    assert documented == routed, "the route table and /openapi.json disagree"
    assert {"/udf/streams", "/udf/streams/{stream}/subscribe", "/udf/replay", "/udf/replay/{replay}/jump"} <= set(
        spec["paths"]
    )
    command = [
        schemathesis_cli(),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--exclude-path",
        "/udf/stream",
        "--exclude-path",
        "/udf/streams",
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
