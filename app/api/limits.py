"""Request bodies: refused before they are read when they cannot be accepted.

A body over the limit (MAX_BODY_BYTES; MAX_IMPORT_BYTES for imports) is answered 413 as soon
as its Content-Length says so or, streamed without one, as soon as it passes the limit; a body
without any key is answered 401 before a byte of it is read. So a client cannot make the
service read and parse megabytes it will refuse anyway.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import get_settings, megabytes
from app.core.errors import AppError, Unauthenticated, problem_response

API_PREFIX = "/api/v1"
IMPORT_PATH = "/api/v1/data-values/import"
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


def body_limit(path: str) -> int:
    """The largest body accepted at `path`, in bytes."""
    settings = get_settings()
    return settings.max_import_bytes if path == IMPORT_PATH else settings.max_body_bytes


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The body is larger than {megabytes(limit)}, the limit here", limit=limit)


class BodyGuard:
    """ASGI middleware: authentication shape and body size before the body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = body_limit(path)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(_too_large(limit), scope, send)
            return
        if path.startswith(API_PREFIX) and not _bearer(headers.get("authorization", "")):
            await self._refuse(
                Unauthenticated("Send an API key as `Authorization: Bearer <key>`."),
                scope,
                send,
            )
            return
        if declared.isdigit():  # the server holds the client to the length it declared
            await self.app(scope, receive, send)
            return
        # Streamed without a length: read it here, up to the limit, and hand it on.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse(_too_large(limit), scope, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, error: AppError, scope: Scope, send: Send) -> None:
        response = problem_response(error.to_problem(scope["path"]), headers=error.headers)
        await response(scope, _no_body, send)


def _bearer(header: str) -> bool:
    scheme, _, credentials = header.partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives `body` once, then what the client sends next (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
