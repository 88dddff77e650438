"""Schemas of the formula check: a formula to check and try, and what the check found."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import ProblemDetail
from app.core.types import KEYS_BY_PATTERN, AgencyCode, Number, VariableKey


class FormulaCheck(BaseModel):
    """A formula to check against an agency's variables, and optional values to try it with."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=False,
        json_schema_extra={
            "example": {
                "expression": "psks_diberdayakan / psks_terdata * 100",
                "agency": "DINSOSP3A",
                "values": {"psks_diberdayakan": 45, "psks_terdata": 60},
            }
        },
    )

    expression: str = Field(max_length=10_000, description="The formula, as it would be saved")
    agency: AgencyCode | None = Field(
        default=None,
        description="Code of the agency whose variables the formula may use; may be left out "
        "when the service holds a single agency",
    )
    values: Annotated[dict[VariableKey, Number], KEYS_BY_PATTERN] | None = Field(
        default=None,
        max_length=200,
        description="Values of the formula's variables, by code, to test-evaluate it",
    )


class FormulaTestResult(BaseModel):
    """The formula's value over the values sent."""

    value: float | None = Field(description="The result; null unless `status` is `ok`")
    status: Literal["ok", "undefined", "missing_values"] = Field(
        description="`ok`; `undefined` (e.g. a zero denominator, see `reason`); or "
        "`missing_values` when a variable of the formula has no value"
    )
    reason: str | None = Field(
        description="Why it is not `ok`, e.g. `division_by_zero`", examples=[None]
    )
    detail: str | None = Field(default=None, description="The reason in words")
    missing: list[str] = Field(
        default_factory=list, description="Variables of the formula that were sent no value"
    )


class FormulaCheckResult(BaseModel):
    """A valid formula: the variables it uses, its readings in words and LaTeX, a test value."""

    valid: Literal[True] = Field(description="Always true; an invalid formula is a 422")
    variables: list[str] = Field(
        description="Codes of the variables it uses, in order of appearance",
        examples=[["psks_diberdayakan", "psks_terdata"]],
    )
    description: str = Field(
        description="The formula in words, from the variables' labels",
        examples=[
            "(Jumlah PSKS yang mendapatkan Pemberdayaan Sosial / Total Jumlah PSKS yang terdata)"
            " x 100"
        ],
    )
    latex: str = Field(description="The formula as LaTeX, for documents")
    result: FormulaTestResult | None = Field(description="Null when no values were sent")


class FormulaProblem(ProblemDetail):
    """A refused formula: the engine's error code and the position at fault."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": "urn:iki:problem:invalid-formula",
                "title": "Invalid formula",
                "status": 422,
                "code": "invalid_formula",
                "detail": "Unknown variable 'psks_terdat'; did you mean 'psks_terdata'? "
                "(at character 21 of the formula)",
                "field": "formula",
                "formula_error": "unknown_variable",
                "offset": 20,
                "name": "psks_terdat",
            }
        }
    )

    field: str | None = Field(default=None, description="The request field holding the formula")
    formula_error: str | None = Field(
        default=None,
        description="For a refused formula (`code` `invalid_formula`), what is wrong: "
        "`syntax_error`, `not_ascii`, `not_allowed`, "
        "`unknown_variable`, "
        "`unknown_function`, `too_long`, `too_complex`, `literal_too_large`, "
        "`exponent_not_allowed` or `empty`",
    )
    offset: int | None = Field(
        default=None, description="0-based character offset of the fault in the formula"
    )
    name: str | None = Field(default=None, description="The variable or function at fault")
