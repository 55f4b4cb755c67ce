"""PBKDF2-SHA256 password hashes for the secrets file, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PBKDF2_ITERATIONS = 240_000
MIN_LENGTH = 8


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The ``pbkdf2_sha256$iterations$salt$hash`` string of ``password`` (salted).

    >>> hash_password("correct horse", salt=b"0" * 16).split("$")[:2]
    ['pbkdf2_sha256', '240000']
    """
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password: use at least {MIN_LENGTH} characters")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant time)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    computed = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


__all__ = ["MIN_LENGTH", "PBKDF2_ITERATIONS", "hash_password", "verify_password"]
