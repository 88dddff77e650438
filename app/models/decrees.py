"""Decrees (SK): a year's IKI definitions of an agency, with the SK's own text.

The fields are declared once, in `DecreeBase`; the table adds its keys and timestamps, and
the schemas in `app/schemas/decrees.py` derive from the same base. Its objectives and
indicators are in `app/models/objectives.py` and `app/models/indicators.py`.
"""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Limits
from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import DecreeNumber, IsoDate, OneLine, Paragraph, Year
from app.models.base import JSONValue, timestamp_field

Title = Annotated[str, Limits(max_length=500), OneLine]


class Signatory(SQLModel):
    """Who signed an SK."""

    signatory: Annotated[str, Limits(max_length=255), OneLine] | None = Field(
        default=None,
        description="Who signed the SK",
        schema_extra={"examples": ["Dr. REY SUWIGTYO, S.Sos., M.Si."]},
    )
    signatory_title: Annotated[str, Limits(max_length=255), OneLine] | None = Field(
        default=None, description="The signatory's position"
    )
    signatory_rank: Annotated[str, Limits(max_length=100), OneLine] | None = Field(
        default=None, description="Pangkat/golongan", schema_extra={"examples": ["Pembina"]}
    )
    signatory_nip: Annotated[str, Limits(max_length=50), OneLine] | None = Field(
        default=None, description="NIP of the signatory"
    )


class Clause(BaseModel):
    """A Diktum of the decision: its ordinal, its text and its lettered items."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: Annotated[str, Limits(min_length=1, max_length=32), OneLine] = PydanticField(
        description="KESATU, KEDUA ...", examples=["KESATU"]
    )
    text: Paragraph = PydanticField(description="The clause, verbatim")
    items: list[Paragraph] = PydanticField(
        default_factory=list, max_length=50, description="Its items (a., b., ...), verbatim"
    )


class DecreeText(SQLModel):
    """The body of an SK, verbatim: what the decision considers, rests on and decides."""

    heading: Annotated[str, OneLine] | None = Field(
        default=None,
        max_length=1000,
        description="KEPUTUSAN ... (who decides)",
        schema_extra={
            "examples": [
                "KEPUTUSAN KEPALA DINAS SOSIAL, PEMBERDAYAAN PEREMPUAN DAN PERLINDUNGAN ANAK "
                "KOTA PROBOLINGGO"
            ]
        },
    )
    considerations: Annotated[list[Paragraph], Limits(max_length=50)] = Field(
        default_factory=list,
        sa_type=JSONValue,
        nullable=False,
        description="Menimbang: a., b., ... one item each, verbatim",
    )
    legal_bases: Annotated[list[Paragraph], Limits(max_length=100)] = Field(
        default_factory=list,
        sa_type=JSONValue,
        nullable=False,
        description="Mengingat: 1., 2., ... one item each, verbatim",
    )
    clauses: Annotated[list[Clause], Limits(max_length=50)] = Field(
        default_factory=list,
        sa_type=JSONValue,
        nullable=False,
        description="MEMUTUSKAN, Menetapkan: the Diktum KESATU, KEDUA ... (the last one is "
        "usually when it takes effect)",
    )
    place: Annotated[str, OneLine] | None = Field(
        default=None,
        max_length=100,
        description="Ditetapkan di",
        schema_extra={"examples": ["Probolinggo"]},
    )


class DecreeBase(Signatory, DecreeText):
    number: DecreeNumber
    title: Title | None = Field(default=None, description="Title (tentang ...)")
    date: IsoDate = Field(
        description="Date of enactment (pada tanggal)", schema_extra={"examples": ["2025-01-03"]}
    )
    year: Year = Field(index=True, description="Year of effect")


class Decree(DecreeBase, table=True):
    """A Surat Keputusan fixing one year's IKI of an agency."""

    __tablename__ = "decree"

    __table_args__ = (
        UniqueConstraint("agency_id", "year"),
        UniqueConstraint("agency_id", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()
