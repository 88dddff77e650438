"""Request and response schemas of agencies, units and positions (see `app/models/organization`
for their fields)."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

from app.core.types import AgencyCode, PositionCode, UnitCode
from app.models.organization import AgencyBase, PositionBase, UnitBase
from app.schemas.common import Input, Patch

# Agencies ------------------------------------------------------------------------------------


class AgencyCreate(Input, AgencyBase):
    """A new Perangkat Daerah (OPD)."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "code": "DINKES",
                "name": "Dinas Kesehatan Kota Probolinggo",
                "address": "Jl. Mastrip No. 1, Kota Probolinggo",
            }
        }
    )


class AgencyUpdate(Patch, AgencyBase):
    """Changes to an agency; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"phone": "(0335) 421 000"}})


class AgencyRef(SQLModel):
    """An agency, briefly."""

    id: int = Field(examples=[1])
    code: str = Field(description="Stable agency code", examples=["DINSOSP3A"])
    name: str = Field(
        examples=["Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak Kota Probolinggo"]
    )


class AgencyPublic(AgencyBase):
    """A Perangkat Daerah (OPD)."""

    id: int = Field(examples=[1])


# Units ---------------------------------------------------------------------------------------


class UnitCreate(Input, UnitBase):
    """A new Bidang, Sekretariat or UPTD of an agency."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {"agency": "DINSOSP3A", "code": "UPTD_LKS", "name": "UPTD Liponsos"}
        }
    )

    agency: AgencyCode = Field(description="Code of the agency it belongs to")


class UnitUpdate(Patch, UnitBase):
    """Changes to a unit; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"name": "UPTD Liponsos Kota"}})


class UnitRef(SQLModel):
    """A unit, briefly."""

    id: int = Field(examples=[2])
    code: str = Field(description="Unit code, unique in its agency", examples=["BID_PSM"])
    name: str = Field(examples=["Bidang Pemberdayaan Sosial dan Masyarakat"])


class UnitPublic(UnitBase):
    """A Bidang, Sekretariat or UPTD: the owner of reported data (Sumber Data)."""

    id: int = Field(examples=[2])
    agency: AgencyRef


# Positions -----------------------------------------------------------------------------------


class PositionCreate(Input, PositionBase):
    """A new Jabatan with IKI."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "agency": "DINSOSP3A",
                "code": "KASUBAG_UMUM",
                "title": "Kepala Sub Bagian Umum dan Kepegawaian",
                "echelon": "IV.a",
                "unit": "SEKRETARIAT",
                "superior": "SEKRETARIS",
                "duties": ["Melaksanakan urusan umum dan kepegawaian"],
            }
        }
    )

    agency: AgencyCode = Field(description="Code of the agency it belongs to")
    unit: UnitCode | None = Field(
        default=None, description="Code of the unit it heads; null for the agency's head"
    )
    superior: PositionCode | None = Field(
        default=None, description="Code of the position it reports to"
    )


class PositionUpdate(Patch, PositionBase):
    """Changes to a position; fields left out stay as they are, lists are replaced whole."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"echelon": "III.a"}})

    unit: UnitCode | None = Field(default=None, description="Code of the unit it heads, or null")
    superior: PositionCode | None = Field(
        default=None, description="Code of the position it reports to, or null"
    )


class PositionRef(SQLModel):
    """A position, briefly."""

    id: int = Field(examples=[1])
    code: str = Field(description="Position code, unique in its agency", examples=["KADIS"])
    title: str = Field(
        examples=["Kepala Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak"]
    )


class PositionPublic(PositionBase):
    """A Jabatan with its Tugas, Fungsi and Butir Kegiatan as the SK lists them."""

    id: int = Field(examples=[1])
    agency: AgencyRef
    unit: UnitRef | None = Field(description="The unit it heads; none for the agency's head")
    superior: PositionRef | None = Field(description="The position it reports to")
