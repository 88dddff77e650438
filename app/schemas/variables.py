"""Request and response schemas of variables (see `app/models/variables` for their fields)."""

from __future__ import annotations

from pydantic import Field
from sqlmodel.main import SQLModelConfig

from app.core.types import AgencyCode, Omittable, UnitCode
from app.models.variables import VariableBase
from app.schemas.common import Input, Patch
from app.schemas.organization import UnitRef


class VariableCreate(Input, VariableBase):
    """A new reported quantity (komponen data) of an agency."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "agency": "DINSOSP3A",
                "code": "ppks_dibantu",
                "label": "Jumlah PPKS yang mendapatkan bantuan sosial",
                "unit_of_measure": "orang",
                "value_type": "integer",
                "aggregation": "sum",
                "owner_unit": "BID_RPJS",
            }
        }
    )

    agency: AgencyCode = Field(description="Code of the agency it belongs to")
    owner_unit: UnitCode = Field(description="Code of the unit that reports it")


class VariableUpdate(Patch, VariableBase):
    """Changes to a variable; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"max_value": 100000}})

    owner_unit: Omittable[UnitCode] = Field(
        default=None, description="Code of the unit that reports it"
    )


class VariablePublic(VariableBase):
    """A reported quantity (komponen data), reported once per quarter by its owner unit."""

    id: int = Field(description="Variable id", examples=[2])
    owner_unit: UnitRef = Field(description="The unit that reports it")
