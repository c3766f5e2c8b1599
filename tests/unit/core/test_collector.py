"""`collector.settle`: what is alive at start leaves the collector's sight, and young
collections run less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from candleflow.core import collector


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_settle_freezes_what_is_alive_and_spaces_young_collections() -> None:
    kept = [[n] for n in range(1000)]
    _, middle, old = gc.get_threshold()
    collector.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (collector.YOUNG, middle, old)
