"""The request edge: what is decided before a route runs, and before a body is read.

`RequestGuard`, in this order, for every request:
1. a body whose Content-Length is over the limit (MAX_BODY_BYTES; MAX_IMPORT_BYTES for
   imports, the API's and the entry page's upload) is answered 413;
2. under /api/v1, the key is authenticated (401, or 429 for failures over the throttle's
   limit) in a short session of its own that is closed at once, and the principal is put on
   the request's state, where `current_principal` finds it;
3. the capability the matched route asks for (its `requires(...)`) is checked: 403;
4. only then is the body read, whole, before the route sees the request: 413 as soon as a
   streamed body passes the limit, 408 when it stalls (BODY_TIMEOUT_SECONDS between parts)
   or takes too long (BODY_DEADLINE_SECONDS in all).
So a client cannot make the service read a body it will refuse, and no database connection
or worker thread waits on a slow client: a route starts with its body in memory.

`HeadAsGet` answers HEAD wherever GET is answered: the same status and headers, no body.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

import anyio
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import get_settings, megabytes
from app.core.db import session_outside_routes
from app.core.errors import AppError, database_busy, pool_busy, problem_response
from app.core.security import Principal, authenticate, bearer_credential, refusal
from app.models import Capability

API_PREFIX = "/api/v1"
IMPORT_PATH = "/api/v1/data-values/import"
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class RequestTimeout(AppError):
    status_code = 408
    code = "request_timeout"
    title = "Request timeout"


# The entry page's upload of a filled-in template: an import, as the API's.
PAGE_IMPORT_PATH = re.compile(r"/isian/[^/]+/[^/]+/[^/]+/unggah")


def body_limit(path: str) -> int:
    """The largest body accepted at `path`, in bytes: an import's (the API's, or the entry
    page's upload), else the small one of every other request."""
    settings = get_settings()
    if path == IMPORT_PATH or PAGE_IMPORT_PATH.fullmatch(path):
        return settings.max_import_bytes
    return settings.max_body_bytes


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The body is larger than {megabytes(limit)}, the limit here", limit=limit)


def _routes(app: Any) -> Iterator[Any]:
    """The app's routes, each with its routers' dependencies (recent FastAPI keeps included
    routers apart: `iter_route_contexts` gives their routes as they are served)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI copies included routes into the app's router
        return iter(app.router.routes)
    return iter(iter_route_contexts(app.router.routes))


def matched_route(scope: Scope) -> Any | None:
    """The route that will answer this request (method and path), if any."""
    app = scope.get("app")
    if app is None or not hasattr(app, "router"):
        return None
    # The number of routes is part of the key: a route added later (a test's) is found.
    where = (scope["type"], scope.get("method"), scope["path"], scope.get("root_path", ""))
    return _route_at(app, len(app.router.routes), *where)


@lru_cache(maxsize=4096)
def _route_at(
    app: Any, routes: int, kind: str, method: str | None, path: str, root_path: str
) -> Any | None:
    """`matched_route`, remembered: a request is matched against every route in turn (half a
    millisecond of a request's time here), and the routes do not change once served."""
    del routes  # a part of the key only
    scope = {"type": kind, "method": method, "path": path, "root_path": root_path}
    for route in _routes(app):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def route_capabilities(route: Any) -> list[Capability]:
    """The capabilities a route's `requires(...)` dependencies ask for, its routers' first."""
    found: list[Capability] = []

    def walk(dependant: Any) -> None:
        capability = getattr(dependant.call, "capability", None)
        if capability is not None and capability not in found:
            found.append(capability)
        for sub in dependant.dependencies:
            walk(sub)

    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        walk(dependant)
    return found


class Admission:
    """At most `limit` requests of a process at once past the body: the authentication's
    lookup and the route, from its first query to its last byte. The others wait here,
    without a thread, for at most `wait` seconds, then are answered 503 busy.

    Why: a sync route's session is committed and closed only after FastAPI has checked the
    answer in a thread of the pool. Without a bound, a worker under a hundred requests at
    once had every thread waiting for a connection while every connection was held by a
    request waiting for a thread, until the pool's timeout answered 503 to a third of the
    requests. With at most half as many requests as the pool has connections (a request may
    hold two), and fewer than the threads, each admitted request finds both."""

    def __init__(self, limit: int, wait: float) -> None:
        self.limit = limit
        self.wait = wait
        self._permits: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )

    async def enter(self) -> asyncio.Semaphore:
        """Wait for a permit (503 busy after `wait` seconds); the permits to release it to."""
        loop = asyncio.get_running_loop()  # one count per event loop (a worker has one)
        permits = self._permits.get(loop)
        if permits is None:
            permits = self._permits[loop] = asyncio.Semaphore(self.limit)
        try:
            async with asyncio.timeout(self.wait):
                await permits.acquire()
        except TimeoutError as error:
            raise pool_busy() from error
        return permits

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        permits = await self.enter()
        try:
            yield
        finally:
            permits.release()


THREADS = 40
"""The threads of anyio's default limiter, which runs FastAPI's sync routes and
dependencies: the admission stays below it."""
UNADMITTED = frozenset({"/healthz"})
"""Paths that use no connection: answered however busy the worker is."""


class RequestGuard:
    """ASGI middleware: size, authentication and authorization before the body is read;
    then the body, bounded in size and time, before the route runs; the lookup and the route
    within the process's admission (`Admission`)."""

    def __init__(
        self,
        app: ASGIApp,
        page_refusal: Callable[[Any, Request, AppError], Response | None] | None = None,
    ) -> None:
        self.app = app
        self.page_refusal = page_refusal
        settings = get_settings()
        self.admission = Admission(
            max(1, min(settings.db_pool_size, THREADS - 1)), settings.db_pool_timeout_seconds
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with_body = scope["method"] in WITH_BODY
        limit = body_limit(path)
        declared = headers.get("content-length", "")
        if with_body and declared.isdigit() and int(declared) > limit:
            await self._refuse(_too_large(limit), scope, send)
            return
        route = matched_route(scope)
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            try:
                async with self.admission.admitted():
                    principal = await self._authenticate(scope, headers.get("authorization", ""))
                lacking = [c for c in route_capabilities(route) if not principal.can(c)]
                if lacking:
                    raise refusal(principal, lacking[0])
            except AppError as error:
                await self._refuse(error, scope, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        if not with_body or route is None:
            # No body to read, or none that will be read (404, 405): as it is.
            await self._admitted(scope, receive, send)
            return
        try:
            body = await _read_body(receive, limit)
        except AppError as error:
            await self._refuse(error, scope, send)
            return
        if body is not None:  # None: the client went away
            await self._admitted(scope, _replay(body, receive), send)

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in UNADMITTED:
            await self.app(scope, receive, send)
            return
        try:
            permits = await self.admission.enter()
        except AppError as error:
            await self._refuse(error, scope, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            permits.release()

    async def _refuse(self, error: AppError, scope: Scope, send: Send) -> None:
        """A refusal before the route: a problem+json, or a page in words when the route is a
        page's (`page_refusal` says: an oversized upload from the entry form, a stalled body,
        a busy worker), so that a person sees why, not JSON."""
        page = self.page_refusal
        response = page(matched_route(scope), Request(scope), error) if page else None
        if response is None:
            await _refuse(error, scope, send)
            return
        response.headers.update(error.headers or {})  # e.g. Retry-After of a 503
        await response(scope, _no_body, send)

    async def _authenticate(self, scope: Scope, authorization: str) -> Principal:
        """The request's principal, from a lookup in a session closed before it returns; the
        database work runs in a worker thread, off the event loop."""
        credential = bearer_credential(authorization)
        client = scope.get("client")
        address = client[0] if client else "-"
        overrides = getattr(scope.get("app"), "dependency_overrides", {})

        def lookup() -> Principal:
            with session_outside_routes(overrides) as session:
                return authenticate(session, credential, address)

        try:
            return await anyio.to_thread.run_sync(lookup)
        except PoolTimeout as error:
            raise pool_busy() from error
        except OperationalError as error:  # outside the routes' handlers: answered here
            busy = database_busy(error)
            if busy is None:
                raise
            raise busy from error


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, refused (413) once it passes `limit` and (408) when the next part
    takes longer than BODY_TIMEOUT_SECONDS or the whole longer than BODY_DEADLINE_SECONDS;
    None if the client disconnects."""
    settings = get_settings()
    deadline = time.monotonic() + settings.body_deadline_seconds
    chunks: list[bytes] = []
    size = 0
    while True:
        wait = min(settings.body_timeout_seconds, deadline - time.monotonic())
        message: Message | None = None
        with anyio.move_on_after(max(wait, 0)):
            message = await receive()
        if message is None:
            raise RequestTimeout(
                "The body did not arrive in time: send it without pauses of more than "
                f"{settings.body_timeout_seconds:g} s, and all of it within "
                f"{settings.body_deadline_seconds:g} s",
                headers={"Connection": "close"},
            )
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _refuse(error: AppError, scope: Scope, send: Send) -> None:
    response = problem_response(error.to_problem(scope["path"]), headers=error.headers)
    await response(scope, _no_body, send)


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


class HeadAsGet:
    """ASGI middleware: a HEAD request to a path that answers GET is served as that GET,
    its body dropped (the status and headers, Content-Length included, are the GET's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        if matched_route(as_get) is None:
            await self.app(scope, receive, send)  # 404 or 405, as HEAD
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(as_get, receive, without_body)
