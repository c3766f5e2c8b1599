"""The README's example module, exactly as printed, loads through CANDLEFLOW_FUNCTIONS'
`module:Attribute` form and recomputes exactly from any bar."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candleflow.functions.api import FunctionBar, FunctionConfigError
from candleflow.functions.recompute import compute, whole
from candleflow.functions.registry import load
from tests.unit.functions.strategies import bar_series
from tests.unit.functions.test_recompute import KEY, from_stored

README = Path(__file__).resolve().parents[3] / "README.md"
MODULE = "readme_example_momentum"


def example_source() -> str:
    section = README.read_text().split("## User-defined functions", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the section has one complete module"
    return str(blocks[0])


@pytest.fixture(scope="module", autouse=True)
def example_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType(MODULE)
    exec(compile(example_source(), str(README), "exec"), module.__dict__)
    sys.modules[MODULE] = module
    try:
        yield module
    finally:
        del sys.modules[MODULE]


@given(bar_series(max_size=40), st.data())
@settings(max_examples=100)
def test_the_example_is_exact_from_any_bar(bars: list[FunctionBar], data: st.DataObject) -> None:
    functions = load(f"{MODULE}:Momentum(period=3), {MODULE}:MomentumTurns(period=3)", (2,), (1, 2))
    full = whole(functions, KEY, bars)
    assert not full.failures
    closes = [b.close for b in bars]
    momentum = {b.bucket: closes[i] - closes[i - 3] for i, b in enumerate(bars) if i >= 3}
    assert {b: v for k, _, b, v in full.values if k == "momentum"} == momentum
    index = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    item = from_stored(functions, bars, index, full)
    part = compute(functions, item)
    assert part.values == [v for v in full.values if v[2] >= item.since]
    assert part.marks == [m for m in full.marks if m.bucket >= item.since]


def test_the_example_checks_its_parameters() -> None:
    with pytest.raises(FunctionConfigError, match="keep period at 500 or below"):
        load(f"{MODULE}:MomentumTurns(period=600)", (2,), (1, 2))
