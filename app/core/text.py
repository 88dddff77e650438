"""Control characters in text: what a stored text may hold, and what an export drops.

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
