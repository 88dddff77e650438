"""IKI definitions: decrees (SK), their objectives (sasaran) and indicators.

Each entity's fields are declared once, in its `XBase`; the table adds its keys and
timestamps, and the schemas in `app/schemas/decrees.py` derive from the same base.
"""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Limits
from pydantic import Field as PydanticField
from sqlalchemy import Text as TextColumn
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.achievement.polarity import Polarity
from app.core.types import (
    Decimals,
    DecreeNumber,
    FormulaText,
    FreeText,
    IndicatorCode,
    IsoDate,
    Measure,
    SkNumber,
    Text,
    Year,
)
from app.models.base import JSONValue, enum_column, timestamp_field

Title = Annotated[str, Limits(max_length=500)]


class Signatory(SQLModel):
    """Who signed an SK."""

    signatory: Annotated[str, Limits(max_length=255)] | None = Field(
        default=None,
        description="Who signed the SK",
        schema_extra={"examples": ["Dr. REY SUWIGTYO, S.Sos., M.Si."]},
    )
    signatory_title: Annotated[str, Limits(max_length=255)] | None = Field(
        default=None, description="The signatory's position"
    )
    signatory_rank: Annotated[str, Limits(max_length=100)] | None = Field(
        default=None, description="Pangkat/golongan", schema_extra={"examples": ["Pembina"]}
    )
    signatory_nip: Annotated[str, Limits(max_length=50)] | None = Field(
        default=None, description="NIP of the signatory"
    )


Paragraph = Annotated[str, Limits(min_length=1, max_length=20_000)]


class Clause(BaseModel):
    """A Diktum of the decision: its ordinal, its text and its lettered items."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: Annotated[str, Limits(min_length=1, max_length=32)] = PydanticField(
        description="KESATU, KEDUA ...", examples=["KESATU"]
    )
    text: Paragraph = PydanticField(description="The clause, verbatim")
    items: list[Paragraph] = PydanticField(
        default_factory=list, max_length=50, description="Its items (a., b., ...), verbatim"
    )


class DecreeText(SQLModel):
    """The body of an SK, verbatim: what the decision considers, rests on and decides."""

    heading: str | None = Field(
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
    place: str | None = Field(
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


class ObjectiveBase(SQLModel):
    number: SkNumber
    statement: Text = Field(
        sa_type=TextColumn,
        description="The Sasaran Kinerja, verbatim",
        schema_extra={
            "examples": [
                "Meningkatnya Kualitas dan Kemampuan Penyandang Masalah Kesejahteraan Sosial "
                "(PMKS)."
            ]
        },
    )


class Objective(ObjectiveBase, table=True):
    """A Sasaran Kinerja of a position in a decree."""

    __tablename__ = "objective"

    __table_args__ = (UniqueConstraint("decree_id", "position_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    position_id: int = Field(foreign_key="position.id", index=True)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class IndicatorBase(SQLModel):
    code: IndicatorCode = Field(description="`POSITION.objective.number`, unique in its decree")
    number: SkNumber
    name: Text = Field(
        sa_type=TextColumn,
        description="The indicator's name, verbatim",
        schema_extra={
            "examples": [
                "Persentase Potensi Sumber Kesejahteraan Sosial yang mendapatkan Pemberdayaan "
                "Sosial"
            ]
        },
    )
    formula: FormulaText
    unit_of_measure: Measure = Field(schema_extra={"examples": ["%"]})
    polarity: Polarity = Field(
        default=Polarity.higher_is_better,
        sa_type=enum_column(Polarity, "polarity"),
        description="`higher_is_better` or `lower_is_better` (e.g. a poverty rate)",
    )
    decimals: Decimals = 2
    explanation: FreeText | None = Field(
        default=None, sa_type=TextColumn, description="The SK's Penjelasan/Formulasi, verbatim"
    )
    data_source: FreeText | None = Field(
        default=None, sa_type=TextColumn, description="The SK's Sumber Data, verbatim"
    )
    notes: FreeText | None = Field(
        default=None,
        sa_type=TextColumn,
        description="Notes, e.g. discrepancies in the SK and their encoding",
    )
    parent_inferred: bool = Field(
        default=False,
        description="The cascade link (`parent`) is inferred, not stated in the SK",
    )


class Indicator(IndicatorBase, table=True):
    """An Indikator Kinerja Individu: a formula over variables, measured against a target."""

    __tablename__ = "indicator"

    __table_args__ = (UniqueConstraint("decree_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    objective_id: int = Field(foreign_key="objective.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="indicator.id")
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class IndicatorSourceUnit(SQLModel, table=True):
    """The units named as an indicator's Sumber Data."""

    __tablename__ = "indicator_source_unit"

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
