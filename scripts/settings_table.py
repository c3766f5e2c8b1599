"""Print the README's configuration table from `candleflow.core.settings.SETTINGS_DOC` (the
fields of `Settings`; `tests/unit/core/test_settings.py` checks the README holds it).

Usage: `.venv/bin/python scripts/settings_table.py`
"""

from __future__ import annotations

from candleflow.core.settings import SETTINGS_DOC


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, meaning in SETTINGS_DOC:
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
