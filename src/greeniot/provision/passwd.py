"""Mosquitto password-file hashes, in the ``$7$`` format ``mosquitto_passwd`` (2.0) writes:
``username:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password, salt)>`` with a
12-byte salt, 101 iterations and a 64-byte digest (mosquitto ``apps/mosquitto_passwd``,
``src/password_mosq.c``; checked against the real ``mosquitto_passwd`` in the tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101
SALT_BYTES = 12
DIGEST_BYTES = 64


def hash_password(password: str, *, salt: bytes | None = None,
                  iterations: int = ITERATIONS) -> str:
    """The ``$7$...`` hash of ``password`` (a fresh random salt unless one is given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, DIGEST_BYTES)
    return (f"$7${iterations}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        want = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt),
                                  int(iterations), len(want))
    except ValueError:
        return False
    return hmac.compare_digest(want, got)


def new_password() -> str:
    """A random password of 32 URL-safe characters (~190 bits)."""
    return secrets.token_urlsafe(24)


def password_line(username: str, password: str) -> str:
    if ":" in username or "\n" in username:
        raise ValueError(f"username {username!r} may not contain ':' or a newline")
    return f"{username}:{hash_password(password)}"
