"""Entity tags: one value type that services compute and routes put in headers, and the one
parser of `If-Match` and `If-None-Match` (RFC 9110, section 8.8.3 and 13.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.errors import PreconditionFailed


@dataclass(frozen=True)
class ETag:
    """An entity tag: an opaque digest, strong or weak. Services speak in ETags; only
    `header` knows how one is written in HTTP."""

    digest: str
    weak: bool = False

    @classmethod
    def of(cls, parts: Iterable[object], *, weak: bool = False) -> ETag:
        """The tag of a sequence of parts (their order matters); bytes are taken as they are."""
        hasher = hashlib.sha256()
        for part in parts:
            hasher.update(
                part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass")
            )
            hasher.update(b"\x1f")
        return cls(hasher.hexdigest()[:32], weak)

    @property
    def header(self) -> str:
        """The tag as an `ETag` header value: `"digest"` or `W/"digest"`."""
        return f'{"W/" if self.weak else ""}"{self.digest}"'

    def matches(self, header: str | None) -> bool:
        """Whether a conditional header names this tag (or `*`). Tags are compared weakly:
        `W/"x"` and `"x"` match, as RFC 9110 wants for If-None-Match; an If-Match only ever
        carries tags this service issued as strong ones."""
        if not header:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
        return "*" in tags or f'"{self.digest}"' in tags

    def require(self, if_match: str | None) -> None:
        """412 when an `If-Match` header was sent and does not name this tag."""
        if if_match is not None and not self.matches(if_match):
            raise PreconditionFailed(
                "The values changed since you read them (If-Match does not match); read them again",
                current_etag=self.header,
            )
