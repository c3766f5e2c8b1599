"""The chart's resolution table is generated from `candleflow.domain.resolution`: the
toolbar's buttons, the spellings its URL accepts and the refusals it shows are the API's.
`frontend/test/model/resolution.test.ts` checks the chart's parser against the table's
examples; this test checks the table is the declaration's."""

from __future__ import annotations

import runpy
from pathlib import Path

from candleflow.domain.resolution import SPELLINGS, SUPPORTED_CODES

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "frontend" / "src" / "model" / "resolution-table.ts"


def test_the_frontend_table_is_the_generated_one() -> None:
    table = runpy.run_path(str(ROOT / "scripts" / "resolution_table.py"))["table"]()
    assert TABLE.read_text() == table, (
        "regenerate it: .venv/bin/python scripts/resolution_table.py > frontend/src/model/resolution-table.ts"
    )


def test_the_table_lists_every_code_and_spelling() -> None:
    text = TABLE.read_text()
    assert f"export const SUPPORTED_RESOLUTIONS = {list(SUPPORTED_CODES)!r} as const;".replace("'", '"') in text
    for spelling, resolution in SPELLINGS.items():
        assert f'  "{spelling}": "{resolution.code}",' in text
    assert (
        '["1m", { error: "resolution \'1m\' is ambiguous: minutes are plain numbers, `1`; a month is `1M`" }]' in text
    )
