"""Schemas of data values (realisasi): a quarter's values of variables, as written and read."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.types import KEYS_BY_PATTERN, MAX_TEXT, Number, OneLine, SeveralLines, VariableKey
from app.schemas.common import Strict

# Something a browser or a spreadsheet would follow: a scheme (`x:` not followed by a space,
# as "Laporan: TW I" is), or a network path (`//host`, `\\host`).
_LINK = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:(?!\s)|//|\\\\)")


def _as_link(text: str) -> str | None:
    """`text` as a browser would read it when it is a link (of any scheme), else None."""
    # What is shown is not always what is followed: fold compatibility characters (a
    # full-width `ｊａｖａｓｃｒｉｐｔ:`) and drop invisible ones and the tabs and line breaks
    # browsers ignore inside a URL.
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(
        c for c in folded if unicodedata.category(c) not in ("Cf", "Cc") and c not in "\t\r\n"
    ).strip()
    if not _LINK.match(visible):
        return None
    return visible


def is_unsafe_link(text: str) -> bool:
    """Whether evidence is a link other than an http(s) URL with a host (an allow-list:
    `javascript:`, `data:`, `ms-msdt:`, `search-ms:`, `ftp:`, `//host/x` and `\\\\host\\share`
    are all refused, in any disguise); a plain reference ("Arsip Bidang PSM") is no link."""
    link = _as_link(text)
    return link is not None and web_link(text) is None


def web_link(text: str | None) -> str | None:
    """The http(s) URL with a host that `text` is, as a browser would read it; None for a
    plain reference or any other link. The only evidence ever shown as a link."""
    link = _as_link(text) if text else None
    if link is None:
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    return link if parts.scheme.lower() in ("http", "https") and parts.hostname else None


class DataValuesPut(Strict):
    """Values of variables for one quarter, with an optional note and evidence."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "values": {"psks_diberdayakan": 45, "psks_terdata": 120},
                "note": "Data hasil verifikasi lapangan",
                "evidence": "https://drive.example/bukti/psks-tw1.pdf",
            }
        },
    )

    values: Annotated[dict[VariableKey, Number], KEYS_BY_PATTERN] = Field(
        min_length=1,
        max_length=1000,
        description="Variable code -> value. Counts must be whole numbers; values must be "
        "within the variable's range (>= 0 unless it says otherwise).",
    )
    note: Annotated[str, SeveralLines] | None = Field(
        default=None, max_length=MAX_TEXT, description="Keterangan"
    )
    evidence: Annotated[str, OneLine] | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="Bukti dukung: a reference or an http(s) URL",
    )

    @field_validator("evidence")
    @classmethod
    def _safe_evidence(cls, value: str | None) -> str | None:
        # Evidence is shown as a link in reports: only web links, never script or data URLs.
        if value is not None and is_unsafe_link(value):
            raise ValueError("a link must be an http(s) URL with a host")
        return value


class DataValuePublic(BaseModel):
    """A variable's value for one quarter."""

    variable: str = Field(description="Variable code", examples=["psks_terdata"])
    variable_id: int = Field(description="Variable id", examples=[2])
    agency: str = Field(examples=["DINSOSP3A"])
    owner_unit: str = Field(examples=["BID_PSM"])
    year: int = Field(examples=[2025])
    quarter: int = Field(examples=[1])
    value: float = Field(examples=[120])
    note: str | None = Field(description="Keterangan", examples=["TW I"])
    evidence: str | None = Field(
        description="Bukti dukung", examples=["https://drive.example/b.pdf"]
    )
    version: int = Field(description="Increases with every change", examples=[1])
    updated_at: dt.datetime = Field(description="When it last changed")
    updated_by: str | None = Field(description="Name of the key that changed it last")


class DataValuesWritten(BaseModel):
    """What a write did: the values as stored now, and counts."""

    items: list[DataValuePublic]
    created: int = Field(description="Values stored for the first time", examples=[1])
    updated: int = Field(description="Values changed", examples=[1])
    unchanged: int = Field(description="Values sent as they already were", examples=[0])


class ValueChange(BaseModel):
    """A value that one of an indicator's variables was given for a quarter."""

    variable: str = Field(description="Variable code", examples=["psks_terdata"])
    owner_unit: str = Field(examples=["BID_PSM"])
    value: float | None = Field(description="The value set", examples=[120])
    previous: float | None = Field(description="The value before; null when it was new")
    note: str | None = Field(description="Keterangan after the change")
    evidence: str | None = Field(description="Bukti dukung after the change")
    version: int | None = Field(description="The value's version after the change")
    at: dt.datetime = Field(description="When it was set")
    actor: str | None = Field(description="Name of the key that set it", examples=["psm-op"])
    actor_role: str | None = Field(description="That key's role", examples=["operator"])
    action: str = Field(description="`create`, `update` or `import`", examples=["update"])
    request_id: str | None = Field(description="The request's X-Request-ID")
    period_state: str = Field(
        description="The workflow state of the unit's quarter when it was set", examples=["open"]
    )
