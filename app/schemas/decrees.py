"""Request and response schemas of decrees, objectives and indicators (see
`app/models/decrees` for their fields), and of a position's IKI document."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

from app.core.types import (
    MAX_SK_NUMBER,
    AgencyCode,
    DecreeNumber,
    Id,
    IndicatorCode,
    IsoDate,
    Omittable,
    PositionCode,
    SkNumber,
    UnitCode,
    Year,
)
from app.models.decrees import DecreeBase, IndicatorBase, ObjectiveBase, Signatory, Title
from app.schemas.common import Input, Patch
from app.schemas.organization import AgencyRef, PositionPublic, PositionRef, UnitRef
from app.schemas.variables import VariablePublic

UnitCodes = Annotated[list[UnitCode], Field(max_length=50)]

# Decrees -------------------------------------------------------------------------------------


class DecreeCreate(Input, DecreeBase):
    """A new, empty SK of IKI for one year of an agency."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "agency": "DINSOSP3A",
                "number": "000.8.6.3/01/425.109/2026",
                "title": "Indikator Kinerja Individu Tahun 2026",
                "date": "2026-01-05",
                "year": 2026,
            }
        }
    )

    agency: AgencyCode = Field(description="Code of the agency whose IKI it fixes")


class DecreeUpdate(Patch, DecreeBase):
    """Changes to a decree's header; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"date": "2025-01-06"}})


class DecreeCopy(Input, Signatory):
    """The header of next year's SK, to start as a copy of this one's objectives and indicators.
    Title and signatory left out are the source's (the title with its year replaced)."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {"number": "000.8.6.3/01/425.109/2026", "date": "2026-01-05", "year": 2026}
        }
    )

    number: DecreeNumber = Field(description="Nomor SK of the new decree")
    date: IsoDate = Field(description="Date of enactment of the new decree")
    year: Year
    title: Title | None = Field(
        default=None, description="Title; by default the source's title, with its year replaced"
    )


class DecreeRef(SQLModel):
    """A decree, briefly."""

    id: int = Field(examples=[1])
    number: str = Field(description="Nomor SK", examples=["000.8.6.3/06/425.109/2025"])
    year: int = Field(description="Year of effect", examples=[2025])


class DecreePublic(DecreeBase):
    """An SK fixing one year's IKI of an agency."""

    id: int = Field(examples=[1])
    agency: AgencyRef


# Objectives ----------------------------------------------------------------------------------


class ObjectiveCreate(Input, ObjectiveBase):
    """A new Sasaran Kinerja of a position in a decree."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "decree_id": 1,
                "position": "KADIS",
                "number": 6,
                "statement": "Meningkatnya kualitas pelayanan sosial dasar.",
            }
        }
    )

    decree_id: Id = Field(description="Id of the decree it belongs to", examples=[1])
    position: PositionCode = Field(description="Code of the position whose objective it is")


class ObjectiveUpdate(Patch, ObjectiveBase):
    """Changes to an objective; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"number": 2}})

    position: Omittable[PositionCode] = Field(default=None, description="Code of the position")


class ObjectiveRef(SQLModel):
    """A Sasaran Kinerja."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(examples=[1])
    statement: str = Field(description="The Sasaran Kinerja, verbatim")


class IndicatorRef(SQLModel):
    """An indicator, briefly."""

    id: int = Field(description="Indicator id", examples=[1])
    code: str = Field(examples=["KADIS.1.1"])


class ObjectivePublic(ObjectiveBase):
    """A Sasaran Kinerja of a position in a decree, with the codes of its indicators."""

    id: int = Field(description="Objective id", examples=[1])
    decree: DecreeRef
    position: PositionRef
    indicators: list[IndicatorRef] = Field(description="Its indicators, in SK order")


# Indicators ----------------------------------------------------------------------------------


class IndicatorCreate(Input, IndicatorBase):
    """A new Indikator Kinerja Individu under an objective (and so in the objective's decree)."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "objective_id": 1,
                "code": "KADIS.1.6",
                "name": "Persentase PPKS yang mendapatkan bantuan sosial",
                "formula": "ppks_dibantu / ppks_terdata * 100",
                "unit_of_measure": "%",
                "polarity": "higher_is_better",
                "source_units": ["BID_RPJS"],
            }
        }
    )

    objective_id: Id = Field(description="Id of its objective (Sasaran Kinerja)", examples=[1])
    number: SkNumber | None = Field(  # type: ignore[assignment]
        default=None, description="Number in the SK; by default the code's last part"
    )
    source_units: UnitCodes = Field(
        default_factory=list, description="Codes of the units whose data it uses"
    )
    parent: IndicatorCode | None = Field(
        default=None, description="Code of the indicator (same decree) it cascades to"
    )

    @model_validator(mode="after")
    def _number_from_code(self) -> IndicatorCreate:
        if self.number is None:
            number = int(self.code.rsplit(".", 1)[1])
            if not 1 <= number <= MAX_SK_NUMBER:
                raise ValueError(
                    f"the code's last part ({number}) is not a number in the SK "
                    f"(1-{MAX_SK_NUMBER}): give `number`"
                )
            self.number = number
        return self


class IndicatorUpdate(Patch, IndicatorBase):
    """Changes to an indicator; fields left out stay as they are, source units are replaced."""

    model_config = SQLModelConfig(
        json_schema_extra={"example": {"formula": "psks_diberdayakan / psks_terdata * 100"}}
    )

    objective_id: Omittable[Id] = Field(
        default=None, description="Id of an objective of the same decree"
    )
    source_units: Omittable[UnitCodes] = Field(
        default=None, description="Codes of the units whose data it uses"
    )
    parent: IndicatorCode | None = Field(
        default=None, description="Code of the indicator (same decree) it cascades to, or null"
    )


class IndicatorPublic(IndicatorBase):
    """An Indikator Kinerja Individu with its formula, variables and place in the SK."""

    id: int = Field(examples=[1])
    formula_description: str = Field(
        description="The formula in words, from the variables' labels",
        examples=[
            "(Jumlah PSKS yang mendapatkan Pemberdayaan Sosial / Total Jumlah PSKS yang terdata)"
            " x 100"
        ],
    )
    formula_latex: str = Field(description="The formula as LaTeX, for documents")
    variables: list[VariablePublic] = Field(description="The variables the formula uses")
    objective: ObjectiveRef
    position: PositionRef
    decree: DecreeRef
    agency: AgencyRef
    source_units: list[UnitRef] = Field(description="Units whose data it uses")
    parent: IndicatorRef | None = Field(description="The indicator it cascades to, if any")


# The IKI document of a position --------------------------------------------------------------


class IkiObjective(SQLModel):
    """A Sasaran Kinerja with its indicators, as in the SK lampiran."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(description="Number in the SK", examples=[1])
    statement: str = Field(description="The Sasaran Kinerja, verbatim")
    indicators: list[IndicatorPublic]


class IkiDocument(SQLModel):
    """A position's IKI for one year: the lampiran of the SK for that Jabatan."""

    position: PositionPublic
    decree: DecreePublic
    objectives: list[IkiObjective]
