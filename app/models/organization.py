"""Organisation: agencies (Perangkat Daerah), units (Bidang/UPTD/Sekretariat), positions.

Each entity's fields are declared once, in its `XBase`: the table adds its keys and
timestamps, and the request and response schemas (`app/schemas/organization.py`) derive
from the same base.
"""

import secrets
from datetime import datetime
from typing import Annotated

from pydantic import Field as Limits
from sqlalchemy import JSON, BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import (
    AgencyCode,
    JsonNumber,
    Lines,
    Name,
    OneLine,
    PositionCode,
    SeveralLines,
    UnitCode,
)
from app.models.base import timestamp_field

# A postal address may be written on several lines; the rest are one line each.
Address = Annotated[str, Limits(max_length=500, description="Postal address"), SeveralLines]
Phone = Annotated[str, Limits(max_length=100, description="Telephone"), OneLine]
Email = Annotated[str, Limits(max_length=255, description="E-mail"), OneLine]
Website = Annotated[str, Limits(max_length=255, description="Website"), OneLine]
Echelon = Annotated[str, Limits(max_length=16), OneLine]
Percent = Annotated[float, Limits(ge=0, le=100_000, allow_inf_nan=False), JsonNumber]


class AgencyBase(SQLModel):
    code: AgencyCode = Field(unique=True, index=True, description="Stable agency code")
    name: Name = Field(
        description="Official name",
        schema_extra={
            "examples": [
                "Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak Kota Probolinggo"
            ]
        },
    )
    address: Address | None = Field(
        default=None,
        schema_extra={"examples": ["Jalan Raya Dringu No. 13, Kota Probolinggo, Jawa Timur 67271"]},
    )
    phone: Phone | None = Field(default=None, schema_extra={"examples": ["(0335) 421431"]})
    email: Email | None = Field(default=None, schema_extra={"examples": ["dinas@kota.go.id"]})
    website: Website | None = Field(default=None, schema_extra={"examples": ["dinas.kota.go.id"]})
    quality_capaian_above: Percent = Field(
        default=150.0,
        description="Data-quality check: a capaian above this percent is far above its "
        "target (`capaian_far_from_target`)",
    )
    quality_capaian_below: Percent = Field(
        default=50.0,
        description="Data-quality check: a capaian below this percent is far below its target",
    )
    quality_stock_change: Percent = Field(
        default=50.0,
        description="Data-quality check: a stock (`last`) moving by more than this percent of "
        "the previous quarter's value (`stock_change`)",
    )


class Agency(AgencyBase, table=True):
    """A Perangkat Daerah (OPD) of a city."""

    __tablename__ = "agency"

    id: int | None = Field(default=None, primary_key=True)
    rating_scale_id: int | None = Field(default=None, foreign_key="rating_scale.id")
    # Changed by every flush that changes a row the agency's figures are computed from
    # (app/services/revisions.py); random, so that it never comes back. Not audited.
    data_revision: int = Field(
        default_factory=lambda: secrets.randbits(62),
        sa_type=BigInteger,
        sa_column_kwargs={"server_default": "0"},
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class UnitBase(SQLModel):
    code: UnitCode
    name: Name = Field(schema_extra={"examples": ["Bidang Pemberdayaan Sosial dan Masyarakat"]})


class Unit(UnitBase, table=True):
    """A Bidang, Sekretariat or UPTD of an agency: the owner of reported data."""

    __tablename__ = "unit"

    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class PositionBase(SQLModel):
    code: PositionCode
    title: Name = Field(
        description="Nama jabatan",
        schema_extra={
            "examples": ["Kepala Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak"]
        },
    )
    echelon: Echelon | None = Field(
        default=None, description="Eselon", schema_extra={"examples": ["II.b"]}
    )
    duties: Lines = Field(
        default_factory=list, sa_type=JSON, nullable=False, description="Tugas, one item each"
    )
    functions: Lines = Field(
        default_factory=list, sa_type=JSON, nullable=False, description="Fungsi, one item each"
    )
    activities: Lines = Field(
        default_factory=list,
        sa_type=JSON,
        nullable=False,
        description="Butir Kegiatan, one item each",
    )


class Position(PositionBase, table=True):
    """A Jabatan whose holder has IKI: Kepala Dinas, Sekretaris, Kepala Bidang ..."""

    __tablename__ = "position"

    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    superior_id: int | None = Field(default=None, foreign_key="position.id")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
