"""Logging: every line a request logs carries its X-Request-ID."""

from __future__ import annotations

import logging
import re
from typing import Any

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Query parameters that may carry a secret: their values never reach a log.
SECRET_NAME = re.compile(r"key|token|secret|password|passwd|auth|bearer|credential", re.I)
SECRET_VALUE = re.compile(r"iki_[A-Za-z0-9_-]+")


def mask_secrets(target: str) -> str:
    """A request target with the values of secret-looking query parameters (and anything
    shaped like this service's keys) replaced by `***`."""
    path, _, query = target.partition("?")
    if query:
        pairs = []
        for pair in query.split("&"):
            name, sep, _value = pair.partition("=")
            pairs.append(f"{name}{sep}***" if sep and SECRET_NAME.search(name) else pair)
        target = f"{path}?{'&'.join(pairs)}"
    return SECRET_VALUE.sub("iki_***", target)


class HideSecrets(logging.Filter):
    """Masks secrets in uvicorn's access lines (`client - "METHOD target HTTP/x" status`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = mask_secrets(str(args[2]))
            record.args = tuple(args)
        return True


def is_sane_request_id(value: str) -> bool:
    """Whether a client's X-Request-ID can be kept as it is (else one is generated)."""
    return REQUEST_ID.fullmatch(value) is not None


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
                "filters": ["request_id"],
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
