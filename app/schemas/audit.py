"""Schemas of the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventPublic(BaseModel):
    """One change of one record: who, when, in which request, the values before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Event id, increasing", examples=[1204])
    at: dt.datetime = Field(description="When the change was made")
    actor: str | None = Field(
        description="Name of the API key that made it (`cli` or `seed` for the command line)",
        examples=["psm-operator"],
    )
    actor_id: str | None = Field(
        description="The identity of the principal that made it (`key:<id>`); names may be "
        "reused after a key is revoked, identities never are. Null for the command line and "
        "for events recorded before 0.3",
        examples=["key:12"],
    )
    actor_role: str | None = Field(description="The key's role", examples=["operator"])
    action: str = Field(
        description="`create`, `update`, `delete`, or the use case: `import`, `submit`, "
        "`verify`, `return`, `reopen`",
        examples=["update"],
    )
    entity: str = Field(description="Kind of record (table)", examples=["data_value"])
    entity_id: str = Field(description="The record's id", examples=["17"])
    before: dict[str, Any] | None = Field(
        description="Changed fields before (all fields of a deleted record)",
        examples=[{"value": 120.0, "version": 1}],
    )
    after: dict[str, Any] | None = Field(
        description="Changed fields after (all fields of a created record)",
        examples=[{"value": 125.0, "version": 2}],
    )
    request_id: str | None = Field(
        description="The request's X-Request-ID", examples=["4f1c9a0e2b7d4e6f8a1b2c3d4e5f6a7b"]
    )
