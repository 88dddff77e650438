"""Control characters in text: what a stored text may hold, and what an export drops; text
as it is printed (break opportunities in long runs, numbers written Indonesian-style).

A control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) never shows as
itself, cannot be written to an Excel cell, and no name, label or note needs one. Text that
is written on several lines (a note, a description, a paragraph of the SK) may hold tab, line
feed and carriage return; nothing else may hold any.
"""

from __future__ import annotations

import re

# Every Cc character, and the same without the three that multi-line text may hold.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The distinct control characters of `text` that it may not hold, as `U+XXXX`, in the
    order they first appear (empty when the text is acceptable)."""
    pattern = _CONTROLS_BUT_LINES if multiline else _CONTROLS
    return [f"U+{ord(c):04X}" for c in dict.fromkeys(pattern.findall(text))]


def without_controls(text: str) -> str:
    """`text` with the control characters that an export cannot carry removed (tab, line
    feed and carriage return are kept): for rows stored before they were refused at write."""
    return _CONTROLS_BUT_LINES.sub("", text)


# Printing: a long unbroken run of characters (a 600-character name without a space, a URL)
# gets an invisible break opportunity every few characters. WeasyPrint lays a line out from
# the text up to the next break opportunity it finds; without one, it lays out the whole rest
# of the text for every line, so the time to print one such word grows with its square.
ZERO_WIDTH_SPACE = "\u200b"
LONG_RUN = 30  # characters without a space: longer than any word of the SK
RUN_PIECE = 10  # characters between the break opportunities of a long run
_LONG_RUN = re.compile(rf"\S{{{LONG_RUN},}}")


def _pieces(match: re.Match[str]) -> str:
    run = match.group(0)
    return ZERO_WIDTH_SPACE.join(run[i : i + RUN_PIECE] for i in range(0, len(run), RUN_PIECE))


def breakable(text: str) -> str:
    """`text` with a zero-width space every few characters of each run of `LONG_RUN` or more
    characters without a space: it prints (and reads) the same, and a line may break there.
    Linear in the text."""
    return _LONG_RUN.sub(_pieces, text)


def printed(value: object) -> object:
    """A template's `finalize`: every text it prints is `breakable`; markup (HTML already
    made, or an attribute escaped with `|e`) is printed as it is."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return breakable(value)
    return value


# Numbers ------------------------------------------------------------------------------------

_INDONESIAN_SEPARATORS = str.maketrans(",.", ".,")


def indonesian_number(value: float | None, decimals: int) -> str:
    """A number Indonesian-style: thousands with dots, a decimal comma ("1.234,50"); "-" if
    there is none."""
    if value is None:
        return "-"
    text = f"{value:,.{decimals}f}"
    if text.lstrip("-").strip("0,.") == "":
        text = text.lstrip("-")  # no "-0,00"
    return text.translate(_INDONESIAN_SEPARATORS)
