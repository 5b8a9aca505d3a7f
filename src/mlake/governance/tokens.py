"""API tokens: ``mlk_<id>_<secret>``, shown once, stored as a hash.

The secret is 32 random bytes (256 bits) from :mod:`secrets`. Such a secret cannot be guessed or
brute-forced from its hash, so a slow password KDF (scrypt, PBKDF2) would add tens of milliseconds to
*every* request and no security; tokens are therefore stored as SHA-256 of the secret, as GitHub and
PyPI store theirs, and compared in constant time. The public ``id`` part finds the row without
comparing against every stored hash, and lets a token be named in logs and revoked without its secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from mlake.errors import MlakeError

PREFIX = "mlk"


class AuthenticationError(MlakeError):
    """A request carries no token, or a token that is unknown, revoked or expired."""

    code = "unauthenticated"
    http_status = 401


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret_hash: str
    token: str  # the full token, to show once


def issue() -> IssuedToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(token_id, hash_secret(secret), f"{PREFIX}_{token_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(token: str) -> tuple[str, str]:
    """The id and secret of a token; AuthenticationError when it does not have the token's form."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise AuthenticationError("The API token is malformed", hint="tokens look like mlk_<id>_<secret>")
    return parts[1], parts[2]


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
