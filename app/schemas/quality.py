"""Schemas of data quality: rules written by people (see `app/models/quality` for their
fields), and the findings of a unit's quarter."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.main import SQLModelConfig

from app.core.types import KEYS_BY_PATTERN, AgencyCode, VariableKey
from app.models import PeriodState
from app.models.quality import QualityRuleBase
from app.quality import Severity
from app.schemas.common import Input, Patch
from app.schemas.organization import AgencyRef

MAX_FINDING_KEY = 200
FigureName = Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
"""The name of a figure a check computed (`numerator`, `share`, `median` ...)."""
FindingKey = Annotated[
    str,
    Field(
        min_length=3,
        max_length=MAX_FINDING_KEY,
        pattern=r"^[a-z][a-z0-9_]*:[A-Za-z0-9_.]+$",
        description="A finding's `key`, e.g. `numerator_exceeds_denominator:KADIS.1.2`",
        examples=["numerator_exceeds_denominator:KADIS.1.2"],
    ),
]

# Rules -----------------------------------------------------------------------------------------


class QualityRuleCreate(Input, QualityRuleBase):
    """A new rule an agency's values must satisfy."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "agency": "DINSOSP3A",
                "code": "ppks_rehabilitasi_maks_terdata",
                "name": "PPKS yang direhabilitasi tidak melebihi PPKS yang terdata",
                "description": "Setiap PPKS dihitung sekali dalam setahun.",
                "left": "ppks_rehabilitasi",
                "operator": "<=",
                "right": "ppks_terdata",
                "period": "year_to_date",
                "severity": "error",
            }
        }
    )

    agency: AgencyCode = Field(description="Code of the agency whose variables it is over")


class QualityRuleUpdate(Patch, QualityRuleBase):
    """Changes to a rule; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"severity": "warning"}})


class QualityRulePublic(QualityRuleBase):
    """A rule written by people: `left operator right` over an agency's variables."""

    id: int = Field(examples=[1])
    agency: AgencyRef
    variables: list[str] = Field(
        description="The variable codes its two sides use", examples=[["ppks_rehabilitasi"]]
    )


# Findings --------------------------------------------------------------------------------------


class QualityFinding(BaseModel):
    """One thing a verifier should see in a unit's quarter."""

    # Only ever answered (or posted to a webhook): one schema, the answer's.
    model_config = ConfigDict(json_schema_mode_override="serialization")

    code: str = Field(
        description="Stable kind of finding: `numerator_exceeds_denominator`, "
        "`rule_violated`, `missing_evidence`, `capaian_far_from_target`, `zero_denominator`, "
        "`outlier`, `stock_change`, `missing_value`",
        examples=["numerator_exceeds_denominator"],
    )
    severity: Severity = Field(
        description="`error`: a submit is refused unless it is explained; `warning`: the "
        "verifier should look; `info`: worth knowing"
    )
    key: str = Field(
        description="Stable name of the finding in its quarter (`code:subject`), what an "
        "explanation is given for",
        examples=["numerator_exceeds_denominator:KADIS.1.2"],
    )
    indicator: str | None = Field(
        default=None, description="Code of the indicator it is about", examples=["KADIS.1.2"]
    )
    variable: str | None = Field(
        default=None, description="Code of the variable it is about", examples=[None]
    )
    rule: str | None = Field(
        default=None, description="Code of the rule written by people that it breaks"
    )
    values: Annotated[dict[VariableKey, float | None], KEYS_BY_PATTERN] = Field(
        description="The variables' values involved, by code",
        examples=[{"ppks_rehabilitasi": 67, "ppks_terdata": 40}],
    )
    figures: Annotated[dict[FigureName, float | None], KEYS_BY_PATTERN] = Field(
        description="What the check computed from them, by name (`numerator`, "
        "`denominator`, `share`; `realization`, `target`, `achievement`; `median`, "
        "`deviation`, `score`; `previous`, `change`, `limit`; `left`, `right`)",
        examples=[{"numerator": 67, "denominator": 40, "share": 167.5}],
    )
    indicators: list[str] = Field(
        description="The indicators whose figures it touches: its own, or those over its variables",
        examples=[["KADIS.1.2"]],
    )
    message: str = Field(description="What was found, in Indonesian, with the values")
    explanation: str | None = Field(
        default=None, description="Why it is so, as explained at submit (or verify)"
    )


class QualitySummary(BaseModel):
    """How many findings of each severity."""

    error: int = Field(examples=[1])
    warning: int = Field(examples=[2])
    info: int = Field(examples=[0])
    total: int = Field(examples=[3])
    unexplained_errors: int = Field(
        description="Errors without an explanation: a submit is refused while there are any",
        examples=[1],
    )


class QualityReport(BaseModel):
    """The data-quality findings of a unit's quarter, computed from the current data."""

    agency: str = Field(examples=["DINSOSP3A"])
    unit: str = Field(examples=["BID_RPJS"])
    unit_name: str = Field(examples=["Bidang Rehabilitasi Sosial, Perlindungan dan Jaminan Sosial"])
    year: int = Field(examples=[2025])
    quarter: int = Field(examples=[1])
    state: PeriodState = Field(description="The quarter's workflow state")
    summary: QualitySummary
    findings: list[QualityFinding] = Field(
        description="Errors first, then warnings, then info; each with the explanation "
        "stored at the quarter's last submit, if any"
    )
