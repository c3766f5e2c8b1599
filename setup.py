"""Build step that makes the wheel the product: it copies the files of
`candleflow/core/bundled.py`'s table (migrations, the built chart, the Kafka pom) into the
package. Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import runpy
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED: dict[str, tuple[str, str]] = runpy.run_path(str(ROOT / "candleflow" / "core" / "bundled.py"))["BUNDLED"]


def _ensure_frontend() -> None:
    """Build the chart with npm when the clone has no build yet; fail saying what to do."""
    frontend = ROOT / "frontend"
    if (frontend / "dist" / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("frontend/dist is missing and npm is not on PATH: run `make frontend` before building")
    if not (frontend / "node_modules").is_dir():
        subprocess.run([npm, "ci"], cwd=frontend, check=True)
    subprocess.run([npm, "run", "build"], cwd=frontend, check=True)


class BuildPyWithBundle(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds them in the clone
        _ensure_frontend()
        for in_clone, in_package in BUNDLED.values():
            source = ROOT / in_clone
            target = Path(self.build_lib) / "candleflow" / in_package
            if not source.exists():
                raise SystemExit(f"{in_clone} is missing from the source tree: it belongs in the wheel")
            if source.is_dir():
                shutil.rmtree(target, ignore_errors=True)  # no stale file of an earlier build
                shutil.copytree(source, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildPyWithBundle})
