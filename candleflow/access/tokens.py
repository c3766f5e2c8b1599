"""Signed access tokens (JWT): issued with an HMAC secret, verified with that secret or with
the public keys of the operator's identity provider.

A token's claims:

    sub      the holder (a user, a service): streams belong to it
    exp      expiry, unix seconds (required: a token that never expires is refused)
    symbols  the symbol patterns it may read (`candleflow.access.grants`), a list or a
             space-separated string
    admin    true to open the admin surface (`/metrics`, detailed health)
    iss/aud  checked when `CANDLEFLOW_TOKEN_ISSUER` / `CANDLEFLOW_TOKEN_AUDIENCE` are set

Verification runs on every request, so verified tokens are remembered (a bounded table,
each entry re-checked against its expiry on every use): a client presenting the same
token again costs one dictionary lookup, not an HMAC and a JSON parse.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from candleflow.access.exceptions import AccessDenied
from candleflow.access.grants import MAX_PATTERNS, Grant, check_pattern

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Shortest HMAC secret accepted, in bytes (RFC 7518 3.2: at least the hash's size).
MIN_SECRET_BYTES = 32
#: Longest token read at all; longer ones are refused before any parsing.
MAX_TOKEN_LENGTH = 8192
#: Seconds of clock skew tolerated on `exp` and `nbf`.
LEEWAY_S = 30.0
REMEMBERED = 10_000
#: Public key types by the first two letters of the algorithms that use them.
_KEY_FAMILIES: dict[str, tuple[type, ...]] = {
    "RS": (rsa.RSAPublicKey,),
    "PS": (rsa.RSAPublicKey,),
    "ES": (ec.EllipticCurvePublicKey,),
    "Ed": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


@dataclass(frozen=True)
class Keys:
    """What tokens are verified with: an HMAC secret, or public keys (PEM or JWKS)."""

    secret: bytes | None = None
    public: tuple[Any, ...] = ()
    issuer: str | None = None
    audience: str | None = None

    @property
    def algorithms(self) -> tuple[str, ...]:
        return HMAC_ALGORITHMS if self.secret is not None else PUBLIC_KEY_ALGORITHMS


def public_keys(text: str) -> tuple[Any, ...]:
    """The public keys of a PEM file (one or more `-----BEGIN PUBLIC KEY-----` blocks) or of
    a JWKS document (`{"keys": [...]}`, as identity providers publish them)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            keyset = jwt.PyJWKSet.from_dict(json.loads(stripped))
        except (ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"not a JWKS document: {exc}") from exc
        return tuple(key.key for key in keyset.keys)
    keys = []
    for pem in _PEM_BLOCK.findall(stripped):
        try:
            keys.append(load_pem_public_key(pem.encode()))
        except ValueError as exc:
            raise ValueError(f"a PEM block is not a public key: {exc}") from exc
    if not keys:
        raise ValueError("no PEM public key and no JWKS document found")
    return tuple(keys)


def issue(
    secret: bytes | str,
    holder: str,
    symbols: Sequence[str],
    ttl_s: float,
    *,
    admin: bool = False,
    issuer: str | None = None,
    audience: str | None = None,
    algorithm: str = "HS256",
    now: float | None = None,
) -> str:
    """A token for `holder` reading `symbols` for `ttl_s` seconds, signed with `secret`
    (an HMAC secret, or a PEM private key for a public-key `algorithm`)."""
    if not holder:
        raise ValueError("a token needs a holder (its `sub`)")
    if ttl_s <= 0:
        raise ValueError("a token's lifetime must be positive")
    patterns = [check_pattern(pattern) for pattern in symbols]
    if not patterns and not admin:
        raise ValueError("a token needs at least one symbol pattern (e.g. '*' or 'Coinbase:*') or admin")
    issued = time.time() if now is None else now
    claims: dict[str, Any] = {
        "sub": holder,
        "iat": int(issued),
        "exp": int(issued + ttl_s),
        "jti": uuid.uuid4().hex,
        "symbols": patterns,
    }
    if admin:
        claims["admin"] = True
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=algorithm)


def grant_of(claims: dict[str, Any]) -> Grant:
    """The grant a verified token's claims carry (`AccessDenied` for claims of the wrong shape)."""
    holder = claims.get("sub")
    if not isinstance(holder, str) or not holder:
        raise AccessDenied("access token without a holder (sub)")
    raw = claims.get("symbols", [])
    if isinstance(raw, str):
        found: list[object] = list(raw.split())
    elif isinstance(raw, list):
        found = raw
    else:
        raise AccessDenied("access token's symbols claim is neither a list nor a string")
    if len(found) > MAX_PATTERNS:
        raise AccessDenied(f"access token names more than {MAX_PATTERNS} symbol patterns")
    try:
        symbols = tuple(check_pattern(pattern) for pattern in found)
    except ValueError as exc:
        raise AccessDenied(f"access token's symbols claim: {exc}") from None
    return Grant(holder=holder, symbols=symbols, expires=float(claims["exp"]), admin=claims.get("admin") is True)


class TokenVerifier:
    """Checks tokens against `keys` and remembers the grants of good ones (see the module
    docstring); `clock` is the seam for tests."""

    def __init__(self, keys: Keys, *, clock: Callable[[], float] = time.time, remembered: int = REMEMBERED) -> None:
        if keys.secret is None and not keys.public:
            raise ValueError("token verification needs a secret or public keys")
        self.keys = keys
        self.clock = clock
        self._remembered = remembered
        self._grants: OrderedDict[str, Grant] = OrderedDict()

    def verify(self, token: str) -> Grant:
        """The grant of `token`, or `AccessDenied` (401) saying what is wrong with it."""
        now = self.clock()
        grant = self._grants.get(token)
        if grant is not None:
            if grant.live_at(now):
                return grant
            del self._grants[token]
            raise AccessDenied("access token expired")
        grant = self._check(token, now)
        self._grants[token] = grant
        if len(self._grants) > self._remembered:
            self._grants.popitem(last=False)
        return grant

    def _check(self, token: str, now: float) -> Grant:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AccessDenied("access token missing or too long")
        options = {"require": ["exp", "sub"], "verify_aud": self.keys.audience is not None}
        last: jwt.PyJWTError | None = None
        for key in self._candidates(token):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=list(self.keys.algorithms),
                    options=options,  # type: ignore[arg-type]
                    audience=self.keys.audience,
                    issuer=self.keys.issuer,
                    leeway=LEEWAY_S,
                )
            except jwt.ExpiredSignatureError:
                raise AccessDenied("access token expired") from None
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError) as exc:
                last = exc
                continue
            except jwt.PyJWTError as exc:
                raise AccessDenied(f"access token refused: {_reason(exc)}") from None
            grant = grant_of(claims)
            if not grant.live_at(now - LEEWAY_S):
                raise AccessDenied("access token expired")
            return grant
        raise AccessDenied(f"access token refused: {_reason(last) if last else 'no key verifies it'}")

    def _candidates(self, token: str) -> tuple[Any, ...]:
        """The keys that could have signed `token`: the secret, or the public keys of the
        family its header's algorithm names (a token naming another family is refused)."""
        if self.keys.secret is not None:
            return (self.keys.secret,)
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg", ""))
        except jwt.PyJWTError as exc:
            raise AccessDenied(f"access token refused: {_reason(exc)}") from None
        family = _KEY_FAMILIES.get(algorithm[:2])
        return tuple(key for key in self.keys.public if family is not None and isinstance(key, family))


def _reason(exc: jwt.PyJWTError) -> str:
    """PyJWT's message, short and free of the token itself."""
    return str(exc).splitlines()[0][:120] or type(exc).__name__
