"""The error raised when a formula is refused."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "syntax_error",
    "not_ascii",
    "not_allowed",
    "unknown_variable",
    "unknown_function",
    "too_long",
    "too_complex",
    "literal_too_large",
    "exponent_not_allowed",
    "empty",
]


class FormulaError(Exception):
    """A refused formula: a stable code, a short message and the position at fault."""

    code: ErrorCode
    message: str
    offset: int | None
    name: str | None

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        offset: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.offset = offset
        self.name = name

    def __reduce__(self) -> tuple[type[FormulaError], tuple[str, str, int | None, str | None]]:
        return (type(self), (self.code, self.message, self.offset, self.name))

    def __repr__(self) -> str:
        return (
            f"FormulaError(code={self.code!r}, message={self.message!r}, "
            f"offset={self.offset!r}, name={self.name!r})"
        )
