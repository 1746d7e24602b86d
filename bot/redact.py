"""Secrets never reach a log line, whatever logger writes it (httpx puts the Telegram token
in every URL it logs; a library's debug line may quote a request)."""

from __future__ import annotations

import logging
import threading

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_MASK = "[secret]"


def redact_secrets(*secrets: str | None) -> None:
    """From now on, replace each of `secrets` in every log record of this process."""
    with _LOCK:
        fresh = {s for s in secrets if s and len(s) >= 8} - _SECRETS
        if not fresh:
            return
        first = not _SECRETS
        _SECRETS.update(fresh)
    if first:
        make = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = make(*args, **kwargs)
            return _redacted(record)

        logging.setLogRecordFactory(factory)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, _MASK)
    return text


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed record: leave it to logging's own report
        return record
    if any(secret in message for secret in _SECRETS):
        record.msg, record.args = redact(message), None
    return record
