"""Organisation: agencies (Perangkat Daerah), units (Bidang/UPTD/Sekretariat), positions."""

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import timestamp_field


class Agency(SQLModel, table=True):
    """A Perangkat Daerah (OPD) of a city."""

    __tablename__ = "agency"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=255)
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=255)
    website: str | None = Field(default=None, max_length=255)
    rating_scale_id: int | None = Field(default=None, foreign_key="rating_scale.id")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Unit(SQLModel, table=True):
    """A Bidang, Sekretariat or UPTD of an agency: the owner of reported data."""

    __tablename__ = "unit"

    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=255)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Position(SQLModel, table=True):
    """A Jabatan whose holder has IKI: Kepala Dinas, Sekretaris, Kepala Bidang ..."""

    __tablename__ = "position"

    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    code: str = Field(max_length=32)
    title: str = Field(max_length=255)
    echelon: str | None = Field(default=None, max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    superior_id: int | None = Field(default=None, foreign_key="position.id")
    duties: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    functions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    activities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
