"""Logging: every line a request logs carries its X-Request-ID."""

from __future__ import annotations

import re
from typing import Any

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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
            }
        },
        "formatters": {"default": {"format": line}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "app": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
