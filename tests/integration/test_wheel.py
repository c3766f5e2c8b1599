"""The wheel is the product: built from this clone, installed into a fresh virtualenv
outside it, it migrates a database, runs the Faust worker, stores published ticks and
serves history and the chart, with nothing of the clone on its path.

Installing resolves the dependencies through pip's warm cache (PIP_FIND_LINKS and
the index settings of the machine apply as usual).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import asyncpg
import pytest

from candleflow import __version__
from candleflow.stack import StackInfo
from candleflow.stack.ports import free_port
from candleflow.store.migrate import migrations
from tests.harness import Names, create_topics
from tests.harness.engine import publish, wait_absorbed
from tests.harness.tickgen import generate
from tests.harness.waiting import eventually_sync

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "Coinbase:BTC/USD"
INSTALL_TIMEOUT = 600
READY_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def build_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`python -m build --wheel` of this clone (the dev venv holds the build backend):
    the wheel and what the build printed."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (built,) = out.glob("candleflow-*.whl")
    return built, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(build_output: tuple[Path, str]) -> Path:
    return build_output[0]


def test_the_build_prints_no_deprecation(build_output: tuple[Path, str]) -> None:
    """setuptools deprecated the `project.license` table (builds stop working in February
    2027): the license is the SPDX string, and nothing else of ours is deprecated."""
    printed = build_output[1]
    assert "deprecat" not in printed.lower(), [line for line in printed.splitlines() if "eprecat" in line.lower()]
    assert 'license = "MIT"' in (REPO / "pyproject.toml").read_text()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the clone with only the wheel (and its dependencies)."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    assert REPO not in venv.parents
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"pip install of the wheel failed:\n{result.stderr[-3000:]}"
    return venv


def _clean_env(home: Path, candleflow: dict[str, str]) -> dict[str, str]:
    """No PYTHONPATH and no CANDLEFLOW_* of ours: only what the test sets."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "JAVA_HOME", "TMPDIR")}
    return {**keep, "HOME": str(home), **candleflow}


def test_the_wheel_carries_migrations_chart_and_stack_pom(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"candleflow-{__version__}.dist-info/METADATA").decode()
    assert {f"candleflow/store/sql/{path.name}" for path in migrations(REPO / "sql")} <= names
    assert "candleflow/web/dist/index.html" in names
    assert any(name.startswith("candleflow/web/dist/assets/") and name.endswith(".js") for name in names)
    assert "candleflow/stack/pom.xml" in names
    assert f"\nVersion: {__version__}\n" in metadata


FIND_BUNDLED = """
from candleflow.stack.kafka import find_pom
from candleflow.store.migrate import sql_dir
from candleflow.web.static import DIST
print(find_pom()); print(sql_dir()); print(DIST)
"""


def test_the_installed_package_finds_its_files_inside_itself(installed: Path, tmp_path: Path) -> None:
    found = subprocess.run(
        [str(installed / "bin" / "python"), "-c", FIND_BUNDLED],
        env=_clean_env(tmp_path, {}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    site = next(installed.glob("lib/python*/site-packages"))
    assert [Path(path) for path in found] == [
        site / "candleflow" / "stack" / "pom.xml",
        site / "candleflow" / "store" / "sql",
        site / "candleflow" / "web" / "dist",
    ]


#: The symbol the installed `candleflow ingest synthetic` publishes.
FED = "Wheel:SYN/USD"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _wait_healthy(url: str, worker: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    def healthy() -> dict[str, object] | None:
        assert worker.poll() is None, f"the installed worker exited:\n{log.read_text()[-3000:]}"
        status, body = _get(f"{url}/healthz")
        return dict(json.loads(body)) if status == 200 else None

    return eventually_sync(
        healthy, READY_TIMEOUT, interval=0.5, what=f"/healthz answers 200 ({log})", ignoring=(OSError,)
    )


def _start_faust_worker(venv: Path, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`faust -A candleflow.app worker` of the installed package, without `-l`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(venv / "bin" / "faust"), "-A", "candleflow.app", "worker"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _installed_file(venv: Path, relative: str) -> bytes:
    return next(venv.glob(f"lib/python*/site-packages/candleflow/{relative}")).read_bytes()


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory outside the clone to run the installed commands in."""
    assert REPO not in tmp_path.parents
    yield tmp_path


async def test_installed_wheel_migrates_runs_the_worker_and_serves_the_chart(
    installed: Path, stack: StackInfo, names: Names, workdir: Path
) -> None:
    database = f"wheel_{names.app_id.rsplit('-', 1)[-1]}"
    database_url = f"{stack.database_url.rsplit('/', 1)[0]}/{database}"
    port = free_port()
    settings = names.env(
        stack, database_url, stack_dir=workdir / "stack", ticks_partitions=2, web_port=port, log_level="INFO"
    )
    env = _clean_env(workdir, settings)
    log = workdir / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        migrate = await asyncio.to_thread(
            subprocess.run,
            [str(installed / "bin" / "candleflow"), "db", "migrate"],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        conn = await asyncpg.connect(database_url)
        try:
            applied = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        finally:
            await conn.close()
        assert applied == [path.name for path in migrations(REPO / "sql")]

        await create_topics(stack.kafka_bootstrap, {names.ticks_topic: 2})
        worker = _start_faust_worker(installed, env, workdir, log)
        url = f"http://127.0.0.1:{port}"
        health = await asyncio.to_thread(_wait_healthy, url, worker, log)
        assert health.get("status") == "ok", health

        ticks = generate(600, symbols=(SYMBOL,), days=0.2, seed=5, late_fraction=0.0)
        await publish(stack.kafka_bootstrap, names.ticks_topic, ticks)
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic, within=120)

        now = int(time.time())
        status, body = await asyncio.to_thread(
            _get, f"{url}/udf/history?symbol={SYMBOL}&resolution=1&from={now - 86400}&to={now + 60}"
        )
        history = json.loads(body)
        assert status == 200 and history["s"] == "ok", history
        assert sum(history["v"]) == pytest.approx(sum(float(str(t["qty"])) for t in ticks))

        # The README's way to feed a worker from the wheel: the installed `candleflow ingest`.
        fed = await asyncio.to_thread(
            subprocess.run,
            [
                str(installed / "bin" / "candleflow"),
                "ingest",
                "synthetic",
                "--symbols",
                FED,
                "--rate",
                "500",
                "--count",
                "50",
            ],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert fed.returncode == 0, fed.stderr
        await wait_absorbed(database_url, names.app_id, stack.kafka_bootstrap, names.ticks_topic, within=120)
        status, body = await asyncio.to_thread(_get, f"{url}/udf/search?query=SYN&limit=5")
        assert status == 200 and [item["ticker"] for item in json.loads(body)] == [FED]

        status, page = await asyncio.to_thread(_get, f"{url}/")
        assert status == 200 and page == _installed_file(installed, "web/dist/index.html")
        script = page.decode().split('src="', 1)[1].split('"', 1)[0]
        status, bundle = await asyncio.to_thread(_get, urljoin(f"{url}/", script))
        assert status == 200 and bundle == _installed_file(installed, "web/dist/" + script.lstrip("./"))
        assert b"lightweight-view" in bundle, "the entry script no longer loads the chart's drawing chunk"

        text = log.read_text(errors="replace")
        assert " INFO " in text or "[INFO]" in text, "CANDLEFLOW_LOG_LEVEL=INFO did not reach the worker's log"
    finally:
        if worker is not None:
            os.killpg(worker.pid, 15)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
                worker.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
