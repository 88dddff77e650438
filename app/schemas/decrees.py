"""Request and response schemas of decrees (see `app/models/decrees` for their fields)."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

from app.core.types import AgencyCode, DecreeNumber, IsoDate, Year
from app.models.decrees import DecreeBase, Signatory, Title
from app.schemas.common import Input, Patch
from app.schemas.organization import AgencyRef


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
