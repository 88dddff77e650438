"""Logging: every line a request logs carries its X-Request-ID."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote, unquote_plus

# A client's X-Request-ID is kept only when it is a plain id: a UUID in any usual form
# (canonical, without hyphens, in braces, as a URN), a run of hex digits (nginx's
# $request_id, trace ids) or a ULID. Nothing else is echoed or logged: not a key sent by
# mistake, not text that could forge a log line.
_UUID = r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"
PLAIN_ID = re.compile(
    rf"{_UUID}|\{{{_UUID}\}}|urn:uuid:{_UUID}|[0-9a-f]{{16,64}}|[0-7][0-9a-hjkmnp-tv-z]{{25}}",
    re.IGNORECASE,
)
# Query parameters that may carry a secret: their values never reach a log.
SECRET_NAME = re.compile(r"key|token|secret|password|passwd|auth|bearer|credential", re.I)
# This service's keys (`iki_...`), in any case, also with any of their characters
# percent-encoded.
KEY_SHAPED = re.compile(
    r"(?<![A-Za-z0-9])(?:i|%69)(?:k|%6b)(?:i|%69)(?:_|%5f)(?:[A-Za-z0-9_-]|%[0-9a-f]{2})*",
    re.IGNORECASE,
)
# Webhook secrets (`whsec_...`, base64), which no line should quote either.
WEBHOOK_SECRET_SHAPED = re.compile(r"whsec_[A-Za-z0-9+/=_-]*", re.IGNORECASE)
MASK = "***"


def _decoded(text: str, *, plus: bool = False) -> str:
    """`text` percent-decoded until it no longer changes (a few rounds: `%2569` is `i`)."""
    for _ in range(3):
        decoded = unquote_plus(text) if plus else unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _key_shaped(text: str) -> bool:
    return any(
        shape.search(found) is not None
        for shape in (KEY_SHAPED, WEBHOOK_SECRET_SHAPED)
        for found in (text, _decoded(text))
    )


def mask_secrets(target: str) -> str:
    """A request target with every secret masked: a query value whose name (once decoded)
    names a secret, any query name or value or path segment that (once decoded) holds
    something shaped like this service's keys."""
    path, sep, query = target.partition("?")
    segments = [MASK if _key_shaped(segment) else segment for segment in path.split("/")]
    masked = "/".join(segments)
    if not sep:
        return masked
    pairs = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";"):
            pairs.append(pair)
            continue
        name, equals, value = pair.partition("=")
        plain_name = _decoded(name, plus=True)
        if _key_shaped(plain_name):
            name = MASK
        if _key_shaped(_decoded(value, plus=True)) or (value and SECRET_NAME.search(plain_name)):
            value = MASK
        pairs.append(f"{name}{equals}{value}")
    return f"{masked}?{''.join(pairs)}"


def mask_keys(text: str) -> str:
    """`text` with anything shaped like this service's keys (or webhook secrets) masked."""
    return WEBHOOK_SECRET_SHAPED.sub(f"whsec_{MASK}", KEY_SHAPED.sub(f"iki_{MASK}", text))


class HideSecrets(logging.Filter):
    """Masks secrets in every log line: the request target of uvicorn's access lines
    (`client - "METHOD target HTTP/x" status`) by `mask_secrets`, and anything shaped like a
    key in any line or traceback (a header or value that a message quotes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        access = record.name == "uvicorn.access"
        if access and isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = mask_secrets(str(args[2]))
            record.args = tuple(args)
        message = record.getMessage()
        if _key_shaped(message):
            record.msg, record.args = mask_keys(_decoded(message)), None
        if record.exc_info and not record.exc_text:  # an error's text may quote its input
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and _key_shaped(record.exc_text):
            record.exc_text = mask_keys(_decoded(record.exc_text))
        return True


def is_sane_request_id(value: str) -> bool:
    """Whether a client's X-Request-ID can be kept as it is (else one is generated)."""
    return PLAIN_ID.fullmatch(value) is not None


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn, the request id on every
    line (`-` outside a request)."""
    line = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "uuid_length": 32,
                "default_value": "-",
            },
            "hide_secrets": {"()": "app.core.logging.HideSecrets"},
        },
        "formatters": {"default": {"format": line}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "filters": ["request_id", "hide_secrets"],
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "filters": ["request_id", "hide_secrets"],
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "app": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }
