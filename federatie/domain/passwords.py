"""Password hashing with scrypt from the standard library: slow by design, salted, versioned."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from federatie.errors import Unprocessable

# N=2**15, r=8, p=1: about 50 ms and 32 MiB per hash here; OWASP's minimum is N=2**17 with
# r=8 for scrypt-only set-ups, which is too slow for login bursts on 2 cores; rehash on change.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def check_password_strength(password: str) -> None:
    """At least 10 characters: long passphrases over composition rules (NIST SP 800-63B)."""
    if len(password) < 10:
        raise Unprocessable("password too short: use at least 10 characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
