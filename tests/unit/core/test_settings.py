"""Settings: defaults, casts, and error messages that name the variable."""

from __future__ import annotations

import runpy
from dataclasses import fields, replace
from pathlib import Path

import pytest

from candleflow.core.settings import SETTINGS_DOC, Settings, default_stack_dir, variable
from candleflow.domain.exceptions import ConfigError


def test_settings_equal_an_empty_environment() -> None:
    assert Settings() == Settings.from_env({})
    assert Settings().synthetic_symbols == (
        "Coinbase:BTC/USD",
        "Coinbase:ETH/USD",
        "Kraken:SOL/USD",
        "Binance:DOGE/USDT",
    )
    assert Settings().cryptocompare_pairs == ("Coinbase:BTC/USD", "Coinbase:ETH/USD")


def test_every_field_is_one_variable_with_a_default_cast_and_doc() -> None:
    documented = {name: (default, meaning) for name, default, meaning in SETTINGS_DOC}
    assert [variable(f.name) for f in fields(Settings)] == [name for name, _d, _m in SETTINGS_DOC]
    for spec in fields(Settings):
        default, meaning = documented[variable(spec.name)]
        assert meaning, spec.name
        if spec.name != "stack_dir":  # machine-dependent: shown as a phrase
            assert getattr(Settings(), spec.name) == spec.metadata["cast"].parse(default), spec.name


def test_a_variable_set_overrides_only_its_field() -> None:
    changed = Settings.from_env({variable("sse_queue"): "7"})
    assert changed == replace(Settings(), sse_queue=7)


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == "localhost:9092"
    assert settings.web_port == 6066
    assert settings.source == "none"
    assert settings.ticks_topic == "ticks.raw"
    assert settings.ma_periods == (20, 50, 200)
    assert settings.crossover == (20, 50)
    assert settings.stack_dir == default_stack_dir()
    assert settings.stack_kafka_port == 0


def test_values_are_cast() -> None:
    settings = Settings.from_env(
        {
            "CANDLEFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:1234,kafka-2:9093",
            "CANDLEFLOW_WEB_PORT": " 8080 ",
            "CANDLEFLOW_MA_PERIODS": "50, 9,9,20",
            "CANDLEFLOW_CROSSOVER": "9,20",
            "CANDLEFLOW_SOURCE": "Synthetic",
            "CANDLEFLOW_BATCH_WITHIN": "0.5",
            "CANDLEFLOW_STACK_DIR": "/tmp/somewhere",
        }
    )
    assert settings.web_port == 8080
    assert settings.ma_periods == (9, 20, 50)
    assert settings.crossover == (9, 20)
    assert settings.source == "synthetic"
    assert settings.batch_within == 0.5
    assert settings.stack_dir == Path("/tmp/somewhere")
    assert settings.kafka_url == "kafka://127.0.0.1:1234;kafka://kafka-2:9093"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CANDLEFLOW_WEB_PORT", "http", "a port number"),
        ("CANDLEFLOW_WEB_PORT", "70000", "a port number"),
        ("CANDLEFLOW_STACK_PG_PORT", "-1", "a port number"),
        ("CANDLEFLOW_KAFKA_BOOTSTRAP", "localhost", "host:port"),
        ("CANDLEFLOW_DATABASE_URL", "mysql://x/y", "a postgresql:// URL"),
        ("CANDLEFLOW_SOURCE", "krakn", "unknown source 'krakn': expected one of none, synthetic"),
        ("CANDLEFLOW_TICKS_PARTITIONS", "0", "a positive integer"),
        ("CANDLEFLOW_BATCH_WITHIN", "-1", "a positive number"),
        ("CANDLEFLOW_MA_PERIODS", "20,x", "comma-separated positive integers"),
        ("CANDLEFLOW_CROSSOVER", "50,20", "fast < slow"),
        ("CANDLEFLOW_LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
        ("CANDLEFLOW_TICKS_TOPIC", "bad topic", "a Kafka topic name"),
        ("CANDLEFLOW_CRYPTOCOMPARE_URL", "http://x", "a ws:// or wss:// URL"),
    ],
)
def test_malformed_value_names_variable_and_expectation(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r} is not valid")
    assert expected in message


def test_every_malformed_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CANDLEFLOW_WEB_PORT": "abc", "CANDLEFLOW_LOG_LEVEL": "LOUD", "CANDLEFLOW_SOURCE": "x"})
    message = str(caught.value)
    assert message.startswith("3 settings need fixing: ")
    assert "CANDLEFLOW_WEB_PORT='abc' is not valid" in message and "CANDLEFLOW_LOG_LEVEL='LOUD'" in message


def test_cryptocompare_source_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="CANDLEFLOW_CRYPTOCOMPARE_API_KEY"):
        Settings.from_env({"CANDLEFLOW_SOURCE": "cryptocompare"})
    settings = Settings.from_env({"CANDLEFLOW_SOURCE": "cryptocompare", "CANDLEFLOW_CRYPTOCOMPARE_API_KEY": "k"})
    assert settings.cryptocompare_api_key == "k"


def test_crossover_periods_must_be_kept() -> None:
    with pytest.raises(ConfigError, match=r"uses periods \[50\].*add them"):
        Settings.from_env({"CANDLEFLOW_MA_PERIODS": "20,200"})


def test_bad_symbol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CANDLEFLOW_SYNTHETIC_SYMBOLS"):
        Settings.from_env({"CANDLEFLOW_SYNTHETIC_SYMBOLS": "BTCUSD"})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.web_port = 1  # type: ignore[misc]


def test_every_setting_is_documented_once() -> None:
    names = [name for name, _default, _meaning in SETTINGS_DOC]
    assert len(names) == len(set(names))
    assert all(name.startswith("CANDLEFLOW_") for name in names)
    assert all(meaning for _name, _default, meaning in SETTINGS_DOC)


def test_default_stack_dir_is_in_the_clone() -> None:
    root = Path(__file__).resolve().parents[3]
    assert default_stack_dir() == root / ".stack"


def test_the_readme_table_is_the_generated_one() -> None:
    root = Path(__file__).resolve().parents[3]
    table = runpy.run_path(str(root / "scripts" / "settings_table.py"))["table"]()
    assert table in (root / "README.md").read_text(), "regenerate it: .venv/bin/python scripts/settings_table.py"
