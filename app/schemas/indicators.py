"""Request and response schemas of indicators (see `app/models/indicators` for their fields)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from sqlmodel.main import SQLModelConfig

from app.core.types import MAX_SK_NUMBER, Id, IndicatorCode, Omittable, SkNumber, UnitCode
from app.models.indicators import IndicatorBase
from app.schemas.common import Input, Patch
from app.schemas.decrees import DecreeRef
from app.schemas.objectives import IndicatorRef, ObjectiveRef
from app.schemas.organization import AgencyRef, PositionRef, UnitRef
from app.schemas.variables import VariablePublic

UnitCodes = Annotated[list[UnitCode], Field(max_length=50)]


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
