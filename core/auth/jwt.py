"""Verification of OIDC access tokens (JWTs signed RS256) against a provider's JWKS.

Only what the API needs: the signature with the key named by ``kid`` (RSA, RS256 only;
``alg: none`` and HMAC algorithms are refused), the issuer, the audience, and the
expiry/not-before times with a small leeway.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

LEEWAY_S = 60.0


class JwtError(ValueError):
    """The token is not a valid JWT for this issuer and audience (the reason is in words)."""


def b64url_decode(text: str) -> bytes:
    """Base64url without padding, as JWTs and JWKS write it.

    >>> b64url_decode("eyJhIjoxfQ")
    b'{"a":1}'
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def _key(jwks: Mapping[str, Any], kid: str | None) -> rsa.RSAPublicKey:
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping) and k.get("kty") == "RSA"]
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    if len(keys) != 1:
        named = f" {kid!r}" if kid is not None else ""
        raise JwtError(f"no single RSA key{named} in the provider's JWKS")
    return rsa.RSAPublicNumbers(_int(str(keys[0]["e"])), _int(str(keys[0]["n"]))).public_key()


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts (a workbench token has two)."""
    return token.count(".") == 2


def verify(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | None,
    now: float,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, issuer, audience and times check out.

    Raises
    ------
    JwtError
        Malformed, wrongly signed, another issuer or audience, expired or not yet valid.
    """
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(body_b64))
        signature = b64url_decode(sig_b64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError("not a well-formed JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("not a well-formed JWT")
    if header.get("alg") != "RS256":
        raise JwtError(f"algorithm {header.get('alg')!r} is not accepted (RS256 only)")
    key = _key(jwks, header.get("kid"))
    try:
        signed = f"{head_b64}.{body_b64}".encode()
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise JwtError("the signature does not match the provider's key") from exc
    if claims.get("iss") != issuer:
        raise JwtError(f"issued by {claims.get('iss')!r}, not by {issuer!r}")
    granted = claims.get("aud")
    audiences = granted if isinstance(granted, list) else [granted]
    if audience is not None and audience not in audiences:
        raise JwtError(f"not meant for audience {audience!r}")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or now > exp + LEEWAY_S:
        raise JwtError("expired (or without an expiry)")
    if isinstance(nbf, int | float) and now < nbf - LEEWAY_S:
        raise JwtError("not valid yet")
    return claims


__all__ = ["LEEWAY_S", "JwtError", "b64url_decode", "looks_like_jwt", "verify"]
