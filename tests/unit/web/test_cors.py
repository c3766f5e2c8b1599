"""CORS from the allow-list: `*` only while access is open and nothing is listed, a listed
origin named back with credentials, any other origin (and every origin with tokens and no
list) given no grant, preflights included."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from candleflow.core.settings import Settings
from candleflow.web.cors import Cors

SECRET = "an access-token secret of at least thirty-two bytes"
CHARTS = "https://charts.example.com"


def preflight(cors: Cors, origin: str) -> dict[str, str]:
    request = make_mocked_request(
        "OPTIONS",
        "/udf/streams/abc/subscribe",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    response = cors.preflight(request)
    assert response.status == 204
    return dict(response.headers)


def test_open_access_without_a_list_lets_any_page_read_without_credentials() -> None:
    cors = Cors.from_settings(Settings())
    assert cors.headers("https://anywhere.example")["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in preflight(cors, "https://anywhere.example")


@pytest.mark.parametrize("access", ["open", "tokens"])
def test_a_listed_origin_is_named_back_and_no_other(access: str) -> None:
    secret = SECRET if access == "tokens" else ""
    cors = Cors.from_settings(Settings(access=access, cors_origins=(CHARTS,), token_secret=secret))
    allowed = preflight(cors, CHARTS)
    assert allowed["Access-Control-Allow-Origin"] == CHARTS
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    assert (
        "POST" in allowed["Access-Control-Allow-Methods"] and "Authorization" in allowed["Access-Control-Allow-Headers"]
    )
    assert allowed["Vary"] == "Origin"  # a cache must not hand one origin's answer to another
    refused = preflight(cors, "https://evil.example")
    assert not any(name.startswith("Access-Control-") for name in refused)
    assert refused["Vary"] == "Origin"


def test_tokens_without_a_list_grant_no_other_origin() -> None:
    cors = Cors.from_settings(Settings(access="tokens", token_secret=SECRET))
    assert dict(cors.headers(CHARTS)) == {}
    assert not any(name.startswith("Access-Control-") for name in preflight(cors, CHARTS))
