"""Signed links for readers: confirm, unsubscribe, preferences.

A token is `<subscriber id>.<purpose-bound HMAC-SHA256>`, URL-safe, with no expiry: an
unsubscribe link in a years-old email must still work. A token for one purpose never
validates for another, and comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.errors import ConfigError

PURPOSES = ("confirm", "unsubscribe", "preferences")
KEY_FILE = "secret_key"  # in the var/ folder, beside the store


def sign(secret: str, purpose: str, subscriber_id: int, address: str) -> str:
    """The token for `purpose`; bound to the address too, so a reused id cannot inherit it."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"{subscriber_id}.{_mac(secret, purpose, subscriber_id, address)}"


def subscriber_of(token: str) -> int | None:
    """The subscriber id a token claims (unverified), or None when it is malformed."""
    head, _, mac = token.partition(".")
    if not head.isdigit() or len(head) > 12 or not mac or len(token) > 100:
        return None
    return int(head)


def verify(secret: str, purpose: str, token: str, subscriber_id: int, address: str) -> bool:
    expected = sign(secret, purpose, subscriber_id, address)
    return hmac.compare_digest(expected.encode(), token.encode())


def _mac(secret: str, purpose: str, subscriber_id: int, address: str) -> str:
    message = f"{purpose}\x00{subscriber_id}\x00{address}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def load_or_create_secret(configured: str | None, folder: Path) -> str:
    """BOT_SECRET_KEY if set; else the key kept in `folder/secret_key` (mode 0600), made once."""
    if configured:
        return configured
    path = folder / KEY_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the secret key ({exc.strerror}); set "
                          "BOT_SECRET_KEY") from None
    key = secrets.token_urlsafe(32)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the secret key ({exc.strerror}); set "
                          "BOT_SECRET_KEY") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key
