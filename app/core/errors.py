"""One error hierarchy for the service, rendered as RFC 9457 `application/problem+json`."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.config import get_settings, megabytes

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("app.errors")


class FieldError(BaseModel):
    """One invalid field of a request (a refused import row also names its `row` and
    `code`)."""

    model_config = ConfigDict(extra="allow")

    field: str = Field(description="Dotted path of the field, e.g. `body.values.psks_terdata`")
    message: str = Field(description="What is wrong with it")
    type: str | None = Field(default=None, description="Machine-readable kind of error")


class ProblemDetail(BaseModel):
    """An RFC 9457 problem details object, as every error of this API is returned."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "urn:iki:problem:not-found",
                "title": "Not found",
                "status": 404,
                "code": "not_found",
                "detail": "Indicator 999 does not exist",
                "instance": "/api/v1/indicators/999",
            }
        },
    )

    type: str = Field(description="URI naming the kind of problem")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="HTTP status code")
    code: str = Field(description="Stable machine-readable error code, e.g. `not_found`")
    detail: str = Field(description="What went wrong in this occurrence")
    instance: str | None = Field(default=None, description="The request path")
    errors: list[FieldError] | None = Field(
        default=None, description="For validation errors: each invalid field"
    )


class AppError(Exception):
    """Base of every domain error: an HTTP status, a stable `code`, a title and a detail."""

    status_code: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status_code, self.code, self.title, self.detail, instance, **self.extra)


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class NoDecree(NotFound):
    """A year that no decree (SK) defines: of the agency the request is of, or of the
    indicator it names (`years`: the years that there are)."""

    code = "year_not_in_decree"
    title = "No decree for that year"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class WriteConflict(Conflict):
    code = "concurrent_write"
    title = "Concurrent write"


class InUse(Conflict):
    code = "in_use"
    title = "Still referred to"


class PeriodLocked(Conflict):
    """A write to a unit's quarter that is submitted or verified."""

    code = "period_locked"
    title = "Period locked"


class InvalidTransition(Conflict):
    """A workflow step that the period's state does not allow."""

    code = "invalid_transition"
    title = "Invalid transition"


class SelfVerification(Conflict):
    """Four eyes: a key verifying a quarter holding data it wrote."""

    code = "self_verification"
    title = "Self-verification"


class QualityErrors(Conflict):
    """A submit (or verify) of a quarter whose data-quality errors are not all explained."""

    code = "quality_errors"
    title = "Unexplained data-quality errors"


class VerifiedData(Conflict):
    """A change to definitions or targets that verified data depends on."""

    code = "verified_data"
    title = "Verified data depends on it"


class InvalidDefinition(Conflict):
    """A stored definition that can no longer be computed (an admin must correct it)."""

    code = "invalid_definition"
    title = "Invalid definition"


class InvalidInput(AppError):
    """Input that is well-formed JSON but breaks a domain rule (422)."""

    status_code = 422
    code = "invalid_input"
    title = "Invalid input"


class InvalidFormula(InvalidInput):
    code = "invalid_formula"
    title = "Invalid formula"


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"
    title = "Too many requests"


class Busy(AppError):
    """The database could not give the write its lock in time: retry shortly."""

    status_code = 503
    code = "busy"
    title = "Busy"


class PreconditionFailed(AppError):
    status_code = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PdfUnavailable(AppError):
    """PDF rendering cannot run here (WeasyPrint or its system libraries are missing)."""

    status_code = 503
    code = "pdf_unavailable"
    title = "PDF unavailable"


def pool_busy() -> Busy:
    """Every database connection stayed in use for DB_POOL_TIMEOUT_SECONDS."""
    return Busy(
        "The service is busy (every database connection is in use); retry in a moment",
        headers={"Retry-After": "2"},
    )


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem details object (RFC 9457) with the service's stable `code` member.

    Bounded whatever the input it names: the detail at most DETAIL_LIMIT characters, every
    other text at most QUOTE_LIMIT, every list at most MAX_FIELD_ERRORS items (its full
    length beside it as `<name>_total`), and the whole, once written, at most
    MAX_PROBLEM_BYTES (longer lists are halved until it fits)."""
    body: dict[str, Any] = {
        "type": f"urn:iki:problem:{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
        "detail": _short(detail or title, DETAIL_LIMIT),
    }
    if instance:
        body["instance"] = _short(instance)
    body.update(_bounded({k: v for k, v in extra.items() if v is not None}))
    return _within(body, MAX_PROBLEM_BYTES)


class ProblemResponse(JSONResponse):
    """problem+json, escaped to ASCII so that any echo of the input (even a lone surrogate
    that JSON may carry) can always be rendered."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return ProblemResponse(body, status_code=body["status"], headers=headers)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("invalid_input", "Invalid input"),
    428: ("precondition_required", "Precondition required"),
}


MAX_FIELD_ERRORS = 50
QUOTE_LIMIT = 200
DETAIL_LIMIT = 1000
MAX_PROBLEM_BYTES = 64 * 1024
_MAX_DEPTH = 4


def _short(text: str, limit: int = QUOTE_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def _bounded(value: Any, depth: int = 0) -> Any:
    """`value` with every text cut to QUOTE_LIMIT and every list and mapping to
    MAX_FIELD_ERRORS items; a list cut in a mapping gets its length beside it as
    `<name>_total` (unless the mapping names one)."""
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if depth >= _MAX_DEPTH and isinstance(value, dict | list | tuple | set | frozenset):
        return _short(repr(value))
    if isinstance(value, dict):
        items = list(value.items())[:MAX_FIELD_ERRORS]
        bounded = {_short(str(k)): _bounded(v, depth + 1) for k, v in items}
        for key, item in items:
            total = f"{_short(str(key))}_total"
            if isinstance(item, list | tuple) and len(item) > MAX_FIELD_ERRORS:
                bounded.setdefault(total, len(item))
        return bounded
    if isinstance(value, list | tuple | set | frozenset):
        return [_bounded(item, depth + 1) for item in list(value)[:MAX_FIELD_ERRORS]]
    return value


def _within(body: dict[str, Any], limit: int) -> dict[str, Any]:
    """`body`, its longest lists halved until it is written in at most `limit` bytes."""
    while len(json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str)) > limit:
        lists = [(len(v), k) for k, v in body.items() if isinstance(v, list) and len(v) > 1]
        if not lists:
            break
        length, key = max(lists)
        body.setdefault(f"{key}_total", length)
        body[key] = body[key][: length // 2]
    return body


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error (domain, HTTP, validation, unexpected) through problem+json."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc.to_problem(request.url.path), headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: OperationalError) -> JSONResponse:
        busy = database_busy(exc)
        if busy is None:
            return await _unexpected(request, exc)
        return await _app_error(request, busy)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        return await _app_error(request, pool_busy())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        # Quote the request briefly and list a bounded number of errors: a huge bad request
        # gets a small answer.
        errors = [
            {
                "field": _short(_field_path(err.get("loc", ()))),
                "message": _short(str(err.get("msg", ""))),
                "type": err.get("type", ""),
            }
            for err in found[:MAX_FIELD_ERRORS]
        ]
        named = [e["field"] for e in errors[:5]]
        more = f" and {len(found) - len(named)} more" if len(found) > len(named) else ""
        body = problem(
            422,
            "validation_error",
            "Request validation failed",
            f"Invalid value for {', '.join(named) or 'request'}{more}",
            request.url.path,
            errors=errors,
            errors_total=len(found) if len(found) > len(errors) else None,
        )
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # The router names only the methods of the first route of the path it met.
            allowed = _methods_of(request.app, request.url.path)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        body = problem(exc.status_code, code, title, detail, request.url.path)
        return problem_response(body, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unhandled error on %s %s", request.method, request.url.path)
        body = problem(
            500,
            "internal_error",
            "Internal server error",
            "An unexpected error occurred.",
            request.url.path,
        )
        # This answer is made outside the request-id middleware: name the request here.
        request_id = correlation_id.get()
        return problem_response(body, headers={"X-Request-ID": request_id} if request_id else None)


def _methods_of(app: FastAPI, path: str) -> list[str]:
    """Every method that some operation of `path` answers, from the OpenAPI document."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in operations if m in _HTTP_METHODS}
    if "GET" in methods:  # HeadAsGet (app/api/limits.py) answers HEAD wherever GET is
        methods.add("HEAD")
    return sorted(methods)


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}


def database_busy(exc: OperationalError) -> Busy | None:
    """The 503 busy answer to a database error that passes when retried shortly (a lock
    timeout, a server refusing more connections), or None for any other."""
    if _is_lock_timeout(exc):
        return Busy(
            "Another write holds the lock of these data; retry in a moment",
            headers={"Retry-After": "2"},
        )
    if _refuses_connections(exc):
        return Busy(
            "The service is busy (the database accepts no more connections); retry in a moment",
            headers={"Retry-After": "2"},
        )
    return None


def _is_lock_timeout(exc: OperationalError) -> bool:
    """SQLite's `database is locked` after its busy timeout, or PostgreSQL's lock timeout."""
    return "database is locked" in str(exc.orig) or (getattr(exc.orig, "sqlstate", None) == "55P03")


# PostgreSQL's too_many_connections and cannot_connect_now (starting up, shutting down, in
# recovery), and what it says with them: a connection refused while being opened carries no
# SQLSTATE in psycopg, only the server's message.
_REFUSED_CONNECTION_STATES = frozenset({"53300", "57P03"})
_REFUSED_CONNECTION_MESSAGES = (
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
)


def _refuses_connections(exc: OperationalError) -> bool:
    """PostgreSQL refusing a new connection: all its slots taken (for the server, a role or
    a database), or not accepting any for now."""
    if getattr(exc.orig, "sqlstate", None) in _REFUSED_CONNECTION_STATES:
        return True
    message = str(exc.orig).lower()
    return any(refusal in message for refusal in _REFUSED_CONNECTION_MESSAGES)


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def _too_large_description() -> str:
    settings = get_settings()
    return (
        f"The body is larger than the limit ({megabytes(settings.max_body_bytes)}; "
        f"{megabytes(settings.max_import_bytes)} for imports)"
    )


_DESCRIPTIONS = {
    400: "The body cannot be parsed (not UTF-8, not JSON, a broken form)",
    401: "Missing or invalid API key",
    403: "The key's role or unit scope does not allow this",
    404: "No such resource",
    409: "Conflicts with the current state (e.g. a code taken, still referred to, a locked "
    "period, a concurrent write)",
    412: "If-Match no longer matches the current version",
    413: _too_large_description(),
    415: "The body's media type is not one this operation reads",
    422: "Invalid input; `errors` or `field` names what is wrong (NUL characters, `%00` or "
    "`\\u0000`, are refused anywhere in a request)",
    429: "Too many failed authentications from this client (when AUTH_FAILURE_LIMIT is set); "
    "retry after `Retry-After` seconds",
    408: "The body stalled: no byte came for BODY_TIMEOUT_SECONDS, or the whole body took "
    "longer than BODY_DEADLINE_SECONDS",
    503: "Busy: another write holds the lock of these data, or every database connection (or "
    "PDF worker) is taken, or the database accepts no more; retry after `Retry-After` seconds",
}


def openapi_problem(status: int) -> dict[str, Any]:
    """The OpenAPI response object of a problem answer with `status` (its general
    description), for statuses every operation may answer."""
    answer: dict[str, Any] = {
        "description": _DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
    }
    if status in {429, 503}:
        answer["headers"] = RETRY_AFTER
    return answer


def problem_schema_responses(
    *statuses: int,
    descriptions: dict[int, str] | None = None,
    retried: frozenset[int] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json errors for the given statuses;
    `descriptions` overrides the general description of a status, `retried` names the
    statuses that carry Retry-After (by default 429 and 503, unless their description is
    overridden)."""
    described = {**_DESCRIPTIONS, **(descriptions or {})}
    # Throttling and a busy lock say when to retry; other answers do not.
    if retried is None:
        retried = frozenset({429, 503} - set(descriptions or ()))
    return {
        status: {
            "description": described.get(status, "Error"),
            "model": ProblemDetail,
            "content": {PROBLEM_JSON: {}},
            **({"headers": RETRY_AFTER} if status in retried else {}),
        }
        for status in statuses
    }
