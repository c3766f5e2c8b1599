"""Access tokens: issued, verified, refused for every reason a holder should hear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from candleflow.access.exceptions import AccessDenied
from candleflow.access.tokens import Keys, TokenVerifier, issue, public_keys

SECRET = b"s" * 32


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict[str, object], claims: dict[str, object], hmac_key: bytes) -> str:
    """A token signed by hand: an unsigned one (empty key) or an HMAC one keyed with anything."""
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(hmac_key, signing.encode(), hashlib.sha256).digest() if hmac_key else b""
    return f"{signing}.{_b64(signature)}"


def verifier(keys: Keys | None = None, now: float | None = None) -> TokenVerifier:
    return TokenVerifier(keys or Keys(secret=SECRET), clock=Clock(time.time() if now is None else now))


def test_an_issued_token_carries_its_holder_symbols_expiry_and_admin() -> None:
    now = time.time()
    token = issue(SECRET, "alice", ["Coinbase:*"], 60, admin=True, now=now)
    grant = verifier(now=now).verify(token)
    assert grant.holder == "alice"
    assert grant.symbols == ("Coinbase:*",)
    assert grant.expires == int(now + 60)
    assert grant.admin


def test_expired_forged_and_malformed_tokens_are_refused_with_401() -> None:
    now = time.time()
    expired = issue(SECRET, "alice", ["*"], 10, now=now - 3600)
    forged = issue(b"x" * 32, "alice", ["*"], 60, now=now)
    cases = {expired: "expired", forged: "Signature verification failed", "not-a-token": "refused", "": "missing"}
    for token, reason in cases.items():
        with pytest.raises(AccessDenied, match=reason) as refused:
            verifier(now=now).verify(token)
        assert refused.value.status == 401


def test_a_remembered_token_still_expires() -> None:
    now = time.time()
    check = verifier(now=now)
    token = issue(SECRET, "bob", ["*"], 60, now=now)
    assert check.verify(token).holder == "bob"
    assert isinstance(check.clock, Clock)
    check.clock.now = now + 61 + 1
    with pytest.raises(AccessDenied, match="expired"):
        check.verify(token)


def test_a_token_without_expiry_or_holder_is_refused() -> None:
    no_exp = jwt.encode({"sub": "a", "symbols": ["*"]}, SECRET, algorithm="HS256")
    no_sub = jwt.encode({"exp": int(time.time()) + 60, "symbols": ["*"]}, SECRET, algorithm="HS256")
    for token in (no_exp, no_sub):
        with pytest.raises(AccessDenied, match="refused"):
            verifier().verify(token)


def test_claims_of_the_wrong_shape_are_refused() -> None:
    exp = int(time.time()) + 60
    for symbols in ({"a": 1}, ["Coin base"], [7], ["*"] * 300):
        token = jwt.encode({"sub": "a", "exp": exp, "symbols": symbols}, SECRET, algorithm="HS256")
        with pytest.raises(AccessDenied, match="symbol"):
            verifier().verify(token)


def test_symbols_may_be_a_space_separated_string_as_scopes_are() -> None:
    token = jwt.encode(
        {"sub": "a", "exp": int(time.time()) + 60, "symbols": "Coinbase:* Kraken:ETH/USD"}, SECRET, algorithm="HS256"
    )
    assert verifier().verify(token).symbols == ("Coinbase:*", "Kraken:ETH/USD")


def test_the_none_algorithm_and_a_public_key_algorithm_are_refused_with_a_secret() -> None:
    exp = int(time.time()) + 60
    unsigned = _token({"alg": "none", "typ": "JWT"}, {"sub": "a", "exp": exp, "symbols": ["*"]}, b"")
    with pytest.raises(AccessDenied):
        verifier().verify(unsigned)


def test_issuer_and_audience_are_checked_when_configured() -> None:
    keys = Keys(secret=SECRET, issuer="https://id.example", audience="candleflow")
    good = issue(SECRET, "a", ["*"], 60, issuer="https://id.example", audience="candleflow")
    assert verifier(keys).verify(good).holder == "a"
    for bad in (issue(SECRET, "a", ["*"], 60, audience="candleflow"), issue(SECRET, "a", ["*"], 60, issuer="x")):
        with pytest.raises(AccessDenied, match="refused"):
            verifier(keys).verify(bad)


def _pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[bytes, str]:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem.decode()


def test_tokens_of_an_identity_provider_are_verified_with_its_public_keys() -> None:
    rsa_private, rsa_public = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_private, ec_public = _pem(ec.generate_private_key(ec.SECP256R1()))
    keys = Keys(public=public_keys(rsa_public + "\n" + ec_public))
    check = verifier(keys)
    assert check.verify(issue(rsa_private, "rs", ["*"], 60, algorithm="RS256")).holder == "rs"
    assert check.verify(issue(ec_private, "es", ["*"], 60, algorithm="ES256")).holder == "es"
    other, _ = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(AccessDenied, match="refused"):
        check.verify(issue(other, "mallory", ["*"], 60, algorithm="RS256"))
    claims = {"sub": "hs", "exp": int(time.time()) + 60, "symbols": ["*"]}
    confused = _token({"alg": "HS256", "typ": "JWT"}, claims, rsa_public.encode())  # HMAC keyed with the public key
    with pytest.raises(AccessDenied, match="no key verifies it"):
        check.verify(confused)


def test_a_jwks_document_gives_the_keys_too() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem, _ = _pem(private)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    keys = Keys(public=public_keys(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]})))
    assert verifier(keys).verify(issue(private_pem, "idp-user", ["*"], 60, algorithm="RS256")).holder == "idp-user"


@pytest.mark.parametrize(
    "text", ["", "hello", "{not json", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]
)
def test_key_files_that_hold_no_key_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        public_keys(text)


@pytest.mark.parametrize(
    ("holder", "symbols", "ttl", "admin"), [("", ["*"], 60, False), ("a", ["*"], 0, False), ("a", [], 60, False)]
)
def test_issue_refuses_tokens_that_could_not_work(holder: str, symbols: list[str], ttl: float, admin: bool) -> None:
    with pytest.raises(ValueError):
        issue(SECRET, holder, symbols, ttl, admin=admin)


def test_the_table_of_remembered_tokens_is_bounded() -> None:
    check = TokenVerifier(Keys(secret=SECRET), remembered=3)
    for holder in "abcde":
        check.verify(issue(SECRET, holder, ["*"], 60))
    assert len(check._grants) == 3
