"""API keys: a name, a role, an optional unit scope and the hash of the secret."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.models.base import enum_column, timestamp_field


class Role(StrEnum):
    """Roles, each allowed what the ones before it are: reader < operator < verifier < admin."""

    reader = "reader"
    operator = "operator"
    verifier = "verifier"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class ApiKey(SQLModel, table=True):
    """A bearer key. Only the SHA-256 of its secret is stored."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    role: Role = Field(sa_type=enum_column(Role, "role"))
    prefix: str = Field(
        max_length=16, description="The first characters of the key, to tell keys apart"
    )
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeyUnit(SQLModel, table=True):
    """The units an operator key may write for."""

    __tablename__ = "api_key_unit"

    api_key_id: int = Field(foreign_key="api_key.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
