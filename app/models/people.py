"""People: accounts that sign in on the pages, their units and their sessions."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.models.base import enum_column, timestamp_field
from app.models.security import Role


class Person(SQLModel, table=True):
    """A person who signs in with a name and a password. Only an argon2 hash of the password
    is stored; the role grants the same capabilities as a key's."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    role: Role = Field(sa_type=enum_column(Role, "role"))
    password_hash: str = Field(max_length=255)
    must_change_password: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PersonUnit(SQLModel, table=True):
    """The units a person enters data for and submits (as `ApiKeyUnit` for keys)."""

    __tablename__ = "person_unit"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)


class PersonSession(SQLModel, table=True):
    """A signed-in browser: only the SHA-256 of the random token its cookie holds is stored."""

    __tablename__ = "person_session"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
