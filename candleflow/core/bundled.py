"""Files candleflow needs at run time that are not Python: the migrations, the built
chart and the Kafka pom of the local stack.

In a clone they live at the repository root (`sql/`, `frontend/dist/`,
`stack/pom.xml`); the wheel carries them inside the package (`setup.py` copies them
by this same table), so an installed candleflow needs no clone. This module imports
nothing of candleflow: the build runs it by path.
"""

from __future__ import annotations

from pathlib import Path

#: name -> (path in the clone, path inside the installed package)
BUNDLED: dict[str, tuple[str, str]] = {
    "sql": ("sql", "store/sql"),
    "frontend": ("frontend/dist", "web/dist"),
    "pom": ("stack/pom.xml", "stack/pom.xml"),
}

PACKAGE = Path(__file__).resolve().parents[1]
CLONE = PACKAGE.parent


def bundled(name: str) -> Path:
    """Where `name` is: inside the package when installed from a wheel, else in the
    clone (that path is returned even when missing, for error messages)."""
    in_clone, in_package = BUNDLED[name]
    packaged = PACKAGE / in_package
    return packaged if packaged.exists() else CLONE / in_clone
