"""Response schemas of a decree's lint: what is wrong or worth knowing in its definitions."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

from app.lint import Severity
from app.schemas.decrees import DecreeRef


class LintFinding(SQLModel):
    """One thing found in a decree's definitions, about an indicator or a variable."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "code": "count_name_over_percentage",
                "severity": "warning",
                "indicator": "KABID_RPJS.3.1",
                "variable": None,
                "rule": None,
                "message": 'Nama indikator berbunyi "Jumlah ..." (banyaknya), tetapi '
                "formulasinya membagi pembilang dengan penyebut sehingga hasilnya persentase. "
                "Samakan nama dengan formulasi, atau catat alasannya.",
            }
        }
    )

    code: str = Field(
        description="Stable kind of finding, e.g. `count_name_over_percentage`, "
        "`ratio_units_differ`, `flow_over_annual_stock`, `no_target`, `parent_inferred`; "
        "about a data-quality rule: `quality_rule_never_fires`, `quality_rule_always_fires`, "
        "`quality_rule_outside_decree`",
        examples=["count_name_over_percentage"],
    )
    severity: Severity = Field(
        description="`error`: the capaian computed from the definition is wrong or "
        "meaningless; `warning`: the definition contradicts itself or is incomplete; "
        "`info`: worth knowing, nothing to fix"
    )
    indicator: str | None = Field(
        description="Code of the indicator it is about; null for a finding about a variable alone",
        examples=["KABID_RPJS.3.1"],
    )
    variable: str | None = Field(
        description="Code of the variable it is about, if one is at fault",
        examples=["kasus_anak_diterima"],
    )
    rule: str | None = Field(
        default=None,
        description="Code of the data-quality rule it is about (`quality_rule_never_fires`, "
        "`quality_rule_always_fires`, `quality_rule_outside_decree`); null otherwise",
        examples=[None],
    )
    message: str = Field(description="What is wrong, in Indonesian, for the admin")


class LintSummary(SQLModel):
    """How many findings of each severity."""

    error: int = Field(description="Findings of severity `error`", examples=[12])
    warning: int = Field(description="Findings of severity `warning`", examples=[60])
    info: int = Field(description="Findings of severity `info`", examples=[26])
    total: int = Field(description="All findings", examples=[98])


class LintReport(SQLModel):
    """The lint of a decree: its findings, indicators in SK order, then the decree's own."""

    decree: DecreeRef
    summary: LintSummary
    findings: list[LintFinding] = Field(description="Every finding")
