"""Times on the command line and in reports."""

from __future__ import annotations

import pytest

from candleflow.domain.instants import iso, parse_instant

NOW = 1_732_406_400_000  # 2024-11-24T00:00:00Z


def test_instants_are_ms_or_iso_in_utc() -> None:
    assert parse_instant(str(NOW)) == NOW
    assert parse_instant("2024-11-24") == NOW
    assert parse_instant("2024-11-24T01:00:00+01:00") == NOW
    assert parse_instant("2024-11-24T00:00:00.5Z") == NOW + 500
    with pytest.raises(ValueError, match="seconds"):
        parse_instant(str(NOW // 1000))
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant("yesterday")
    assert iso(NOW) == "2024-11-24T00:00:00Z" and iso(NOW + 5) == "2024-11-24T00:00:00.005Z"
