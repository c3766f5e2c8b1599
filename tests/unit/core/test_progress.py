"""The terminal progress line of long reads."""

from __future__ import annotations

import io

from candleflow.core.progress import Progress


def test_progress_shows_the_fraction_and_the_counts_and_ends_its_line() -> None:
    out = io.StringIO()
    progress = Progress(1000, unit="B", stream=out, interval=0.0)
    progress.advance_to(250, lines=5000)
    assert "25%" in out.getvalue()
    assert "lines=5,000" in out.getvalue()
    progress.finish()
    assert out.getvalue().endswith("\n")
    assert Progress.for_terminal(10, unit="B", stream=io.StringIO()) is None
