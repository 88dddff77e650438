"""The audit trail: every change of the service's data, append-only."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One change of one row, written in the transaction that made it. Never changed nor
    deleted (a trigger refuses both, on PostgreSQL and on SQLite)."""

    __tablename__ = "audit_event"

    __table_args__ = (Index("ix_audit_event_entity_entity_id", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    actor: str | None = Field(default=None, max_length=100, index=True)
    actor_id: str | None = Field(default=None, max_length=32, index=True)
    actor_role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=32, index=True)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=100)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    request_id: str | None = Field(default=None, max_length=128, index=True)
    # The writing transaction's id on PostgreSQL (a column default set by the migration), so
    # that a pull can resume from a snapshot's horizon; SQLite serialises writers, so there
    # the event id is in commit order and serves instead.
    txid: int | None = Field(default=None, sa_type=BigInteger, index=True)
