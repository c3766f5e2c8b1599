"""Configuration of functions: what CANDLEFLOW_FUNCTIONS accepts, and the messages that
stop a worker at start when it names something wrong."""

from __future__ import annotations

import pytest

from candleflow.core.settings import Settings
from candleflow.functions.api import FunctionConfigError
from candleflow.functions.builtin import SMA
from candleflow.functions.examples import RSI, Bollinger
from candleflow.functions.registry import FunctionSet, load, split_specs


def test_defaults_are_the_moving_averages_and_the_crossover() -> None:
    functions = load("", (20, 50, 200), (20, 50))
    assert [f.key for f in functions.indicators] == [
        "sma(period=20)",
        "ema(period=20)",
        "sma(period=50)",
        "ema(period=50)",
        "sma(period=200)",
        "ema(period=200)",
    ]
    assert [s.key for s in functions.signals] == ["crossover(fast=20,slow=50)"]
    assert functions.needed == 200
    assert SMA(period=20).stored() == ("sma", 20), "existing databases keep their rows"


def test_shipped_names_module_references_and_parameters() -> None:
    functions = load(
        "rsi, bollinger(period=10, width=2.5), candleflow.functions.examples:VWAP(period=5), close_crosses_ema",
        (20,),
        (5, 20),
    )
    keys = [f.key for f in (*functions.indicators, *functions.signals)]
    assert "rsi(period=14)" in keys and "bollinger(period=10,width=2.5)" in keys and "vwap(period=5)" in keys
    assert "ema(period=50)" in keys, "a signal's inputs are registered with it"
    assert "sma(period=5)" in keys and keys.count("sma(period=20)") == 1
    assert Bollinger(period=10, width=2.5).stored("upper") == ("bollinger.upper(width=2.5)", 10)
    assert RSI().stored("avg_gain") == ("rsi.avg_gain", 14)
    assert functions.find("bollinger", {"period": "10", "width": "2.5"}).key == "bollinger(period=10,width=2.5)"
    with pytest.raises(FunctionConfigError, match="is not computed; registered: rsi"):
        functions.find("rsi", {"period": "15"})
    with pytest.raises(FunctionConfigError, match="no function 'macd' is registered"):
        functions.find("macd", {})


def test_split_specs_keeps_commas_inside_parentheses() -> None:
    assert split_specs(" a, b(x=1,y=2) ,c ") == ["a", "b(x=1,y=2)", "c"]
    with pytest.raises(FunctionConfigError, match="unbalanced"):
        split_specs("a(x=1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("macd", "unknown function 'macd': use one of"),
        ("rsi(period=1)", "rsi: period=1 is below its minimum 2"),
        ("rsi(period=abc)", "period='abc' is not an integer"),
        ("rsi(window=3)", "unknown parameter window \\(parameters: period\\)"),
        ("rsi(14)", "write parameters as name=value"),
        ("nowhere.module:Thing", "cannot import 'nowhere.module'"),
        ("candleflow.functions.examples:Nothing", "has no attribute 'Nothing'"),
        ("candleflow.core.settings:Settings", "not a candleflow.functions Indicator or Signal"),
        ("crossover(fast=50,slow=20)", "fast must be below slow"),
        ("bollinger(width=inf)", "not a finite number"),
    ],
)
def test_a_wrong_configuration_says_what_to_fix(spec: str, message: str) -> None:
    with pytest.raises(FunctionConfigError, match=message):
        load(spec, (20, 50), (20, 50))


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (
            "rsi(period=14),rsi(period=14)",
            "lists rsi\\(period=14\\) twice \\('rsi\\(period=14\\)' and 'rsi\\(period=14\\)'\\)",
        ),
        (
            "rsi, vwap, rsi(period=14)",
            "lists rsi\\(period=14\\) twice \\('rsi' and 'rsi\\(period=14\\)'\\): remove one",
        ),
        (
            "sma(period=20)",
            "'sma\\(period=20\\)' is sma\\(period=20\\), which is computed already \\(CANDLEFLOW_MA_PERIODS=20,50",
        ),
        ("crossover", "is crossover\\(fast=20,slow=50\\), which is computed already"),
    ],
)
def test_a_function_configured_twice_is_refused(specs: str, message: str) -> None:
    with pytest.raises(FunctionConfigError, match=message):
        load(specs, (20, 50), (20, 50))
    assert [f.key for f in load("rsi(period=14), rsi(period=21)", (20,), (5, 20)).indicators][-2:] == [
        "rsi(period=14)",
        "rsi(period=21)",
    ]


def test_two_functions_with_one_name_are_refused() -> None:
    class Other(SMA):
        pass

    with pytest.raises(FunctionConfigError, match="two functions are named 'sma'"):
        FunctionSet.of([SMA(period=3), Other(period=4)])


def test_the_worker_refuses_to_start_with_a_bad_function(tmp_path: object) -> None:
    """Importing the app module reads nothing; the entry point's `app` (what `faust -A
    candleflow.app` asks for) checks the configuration and exits 2 with what to fix."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import candleflow.app as m; print('imported'); m.app"],
        env={"CANDLEFLOW_FUNCTIONS": "rsi(period=0)", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == "imported\n"
    assert "CANDLEFLOW_FUNCTIONS: rsi: period=0 is below its minimum 2" in done.stderr
    assert Settings.from_env({"CANDLEFLOW_FUNCTIONS": " rsi "}).functions == "rsi"
