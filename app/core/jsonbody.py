"""JSON bodies read without ambiguity: an object naming a member twice is refused.

Python's JSON parser keeps the last of `{"value": 1, "value": 2}` silently; which one the
client meant is not clear, so every JSON body of the API (`JSONRoute`) and the import's
(`app/services/imports.py`) is parsed with `unique_members`, which refuses it.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.core.errors import InvalidInput

MAX_NAMED = 10  # members named in the answer; each quoted briefly
_QUOTE = 100
_TOLD, _TOLD_QUOTE = 3, 40


def _quote(name: str, limit: int) -> str:
    return name if len(name) <= limit else f"{name[:limit]}..."


class DuplicateMembers(InvalidInput):
    """A JSON object naming a member more than once."""

    def __init__(self, names: list[str]) -> None:
        shown = [_quote(n, _QUOTE) for n in names[:MAX_NAMED]]
        # The detail names a few, briefly (a problem's detail is at most 1000 characters).
        told = [_quote(n, _TOLD_QUOTE) for n in names[:_TOLD]]
        more = f" and {len(names) - len(told)} more" if len(names) > len(told) else ""
        super().__init__(
            f"A JSON object names {', '.join(told)}{more} more than once; which one is meant "
            "is not clear",
            field="body",
            members=shown,
        )


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads`'s `object_pairs_hook`: the object as a dict, refused (`DuplicateMembers`)
    when it names a member twice. Linear in the members."""
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    twice: dict[str, None] = {}
    for name, _ in pairs:
        if name in seen:
            twice[name] = None
        seen.add(name)
    raise DuplicateMembers(list(twice))


def loads(raw: bytes | str) -> Any:
    """JSON text as Python, refusing members named twice."""
    return json.loads(raw, object_pairs_hook=unique_members)


class JSONBodyRequest(Request):
    """A request whose JSON body is parsed by `loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


def _is_json(content_type: str | None) -> bool:
    # As FastAPI decides to parse a body as JSON: no content type, or application/*json.
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JSONRoute(APIRoute):
    """The route class of every router: a JSON body naming a member twice is answered 422
    (`invalid_input`, naming the members) before the operation runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        reads_json = self.body_field is not None

        async def handler(request: Request) -> Response:
            request = JSONBodyRequest(request.scope, request.receive)
            if reads_json and _is_json(request.headers.get("content-type")):
                body = await request.body()
                if body:
                    try:
                        await request.json()
                    except DuplicateMembers:
                        raise
                    except (ValueError, RecursionError):
                        pass  # not JSON: FastAPI answers it as it does any broken body
            return await handle(request)

        return handler
