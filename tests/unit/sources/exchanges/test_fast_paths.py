"""Each venue's fast path (msgspec straight into typed trades) reads a frame exactly as
the full parse does, and hands everything else to it: the trades of the local servers'
frames, and the same frames spoiled in the ways a venue or a wire can spoil them."""

from __future__ import annotations

import re

import pytest

from candleflow.domain.venues import Spellings
from tests.fakes.exchanges.cases import CASES

#: (pattern, replacement): a negative price, a time without its zone, a time far ahead,
#: the market's name misspelled; each in whichever field names the venue uses.
SPOILERS = [
    (r'"(p|price|px|PRICE|price_str)":"?[0-9.]+"?', r'"\1":"-1"'),
    (r'("(?:time|timestamp)":"[^"]*?)Z"', r'\1"'),
    (r'"(T|ts|TIMESTAMP)":"?(\d+)"?', r'"\1":"9\2"'),
    (r'"microtimestamp":"(\d+)"', r'"microtimestamp":"9\1"'),
]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_the_fast_path_reads_like_the_full_parse(kind: str) -> None:
    case = CASES[kind]
    protocol = case.spec().protocol("ws://127.0.0.1:1/", Spellings(case.spec().venue, case.symbols), case.spec().limits)
    frames = case.frames(60, batch=3)
    for frame in frames:
        fast = protocol.parse(frame)
        assert fast == protocol._parse(frame)  # type: ignore[attr-defined]
        assert any(type(e).__name__ == "Trades" for e in fast), frame
    spoiled = [re.sub(pattern, replacement, frame, count=1) for pattern, replacement in SPOILERS for frame in frames]
    spoiled += [frame.replace("BTC", "ZZZ").replace("btc", "zzz") for frame in frames]
    changed = [frame for frame in spoiled if frame not in frames]
    assert len(changed) >= len(frames) * 2, "the spoilers no longer match this venue's frames"
    for frame in [*changed, frames[0][:-2], frames[0].replace(":", ";", 1)]:
        assert protocol.parse(frame) == protocol._parse(frame), frame  # type: ignore[attr-defined]
