"""Input schemas of the definitions write API and of the formula check.

`XCreate` models carry everything a new row needs; `XUpdate` models carry what a PATCH may
change. An `XUpdate` field left out is left unchanged; an `Omittable` one may be left out but
not set to null.
References are given by code where people think in codes (agency, unit, position, parent
indicator) and by id where the thing has none (decree, objective).
"""

from __future__ import annotations

import datetime as dt
import keyword
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.core.errors import ProblemDetail
from app.core.types import MAX_ID, Number
from app.formula import FUNCTIONS
from app.models import Aggregation, Polarity, ValueType

ORG_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,31}$"
VARIABLE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
INDICATOR_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*\.\d+\.\d+$"


def _not_reserved(code: str) -> str:
    # A variable named like a keyword or a formula function could never be used in a formula.
    if keyword.iskeyword(code) or code in FUNCTIONS:
        raise ValueError(f"'{code}' is a reserved word of formulas; choose another code")
    return code


T = TypeVar("T")

if TYPE_CHECKING:
    Omittable = Annotated[T | None, "may be left out"]
else:
    # Pydantic sees only T: a field left out keeps its None default (defaults are never
    # validated), while an explicit null is refused like any other value of the wrong type.
    Omittable = Annotated[T, "may be left out"]
"""A PATCH field that may be left out (unchanged) but not set to null."""

AgencyCode = Annotated[
    str,
    Field(
        pattern=ORG_CODE_PATTERN,
        description="Agency code: upper case letters, digits and `_`",
        examples=["DINSOSP3A"],
    ),
]
UnitCode = Annotated[
    str,
    Field(
        pattern=ORG_CODE_PATTERN,
        description="Unit code, unique in its agency: upper case letters, digits and `_`",
        examples=["BID_PSM"],
    ),
]
PositionCode = Annotated[
    str,
    Field(
        pattern=ORG_CODE_PATTERN,
        description="Position code, unique in its agency: upper case letters, digits and `_`",
        examples=["KADIS"],
    ),
]
VariableCode = Annotated[
    str,
    Field(
        pattern=VARIABLE_CODE_PATTERN,
        description="snake_case, unique in its agency; the name formulas use",
        examples=["psks_terdata"],
    ),
    AfterValidator(_not_reserved),
]
IndicatorCode = Annotated[
    str,
    Field(
        pattern=INDICATOR_CODE_PATTERN,
        max_length=64,
        description="`POSITION.objective.number`, unique in its decree",
        examples=["KADIS.1.1"],
    ),
]
Year = Annotated[int, Field(ge=2000, le=2100, description="Year of effect", examples=[2026])]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
Lines = Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=200)]
DecreeNumber = Annotated[str, Field(min_length=1, max_length=100)]
SkNumber = Annotated[int, Field(ge=1, le=999)]
Decimals = Annotated[int, Field(ge=0, le=6)]
Measure = Annotated[str, Field(min_length=1, max_length=50)]
Label = Annotated[str, Field(min_length=1, max_length=500)]
UnitCodes = Annotated[list[UnitCode], Field(max_length=50)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Agencies ------------------------------------------------------------------------------------


class AgencyCreate(_Input):
    """A new Perangkat Daerah (OPD)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "DINKES",
                "name": "Dinas Kesehatan Kota Probolinggo",
                "address": "Jl. Mastrip No. 1, Kota Probolinggo",
            }
        }
    )

    code: AgencyCode
    name: Name = Field(description="Official name", examples=["Dinas Kesehatan Kota Probolinggo"])
    address: str | None = Field(default=None, max_length=500, description="Postal address")
    phone: str | None = Field(default=None, max_length=100, description="Telephone")
    email: str | None = Field(default=None, max_length=255, description="E-mail")
    website: str | None = Field(default=None, max_length=255, description="Website")


class AgencyUpdate(_Input):
    """Changes to an agency; fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"example": {"phone": "(0335) 421 000"}})

    code: Omittable[AgencyCode] = Field(default=None)
    name: Omittable[Name] = Field(default=None, description="Official name")
    address: str | None = Field(default=None, max_length=500, description="Postal address")
    phone: str | None = Field(default=None, max_length=100, description="Telephone")
    email: str | None = Field(default=None, max_length=255, description="E-mail")
    website: str | None = Field(default=None, max_length=255, description="Website")


# Units ---------------------------------------------------------------------------------------


class UnitCreate(_Input):
    """A new Bidang, Sekretariat or UPTD of an agency."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"agency": "DINSOSP3A", "code": "UPTD_LKS", "name": "UPTD Liponsos"}
        }
    )

    agency: AgencyCode = Field(description="Code of the agency it belongs to")
    code: UnitCode
    name: Name = Field(examples=["Bidang Pemberdayaan Sosial dan Masyarakat"])


class UnitUpdate(_Input):
    """Changes to a unit; fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"example": {"name": "UPTD Liponsos Kota"}})

    code: Omittable[UnitCode] = Field(default=None)
    name: Omittable[Name] = Field(default=None, description="New name")


# Positions -----------------------------------------------------------------------------------


class PositionCreate(_Input):
    """A new Jabatan with IKI."""

    model_config = ConfigDict(
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
    code: PositionCode
    title: Name = Field(description="Nama jabatan", examples=["Sekretaris"])
    echelon: str | None = Field(default=None, max_length=16, description="Eselon")
    unit: UnitCode | None = Field(
        default=None, description="Code of the unit it heads; null for the agency's head"
    )
    superior: PositionCode | None = Field(
        default=None, description="Code of the position it reports to"
    )
    duties: Lines = Field(default_factory=list, description="Tugas, one item each")
    functions: Lines = Field(default_factory=list, description="Fungsi, one item each")
    activities: Lines = Field(default_factory=list, description="Butir Kegiatan, one item each")


class PositionUpdate(_Input):
    """Changes to a position; fields left out stay as they are, lists are replaced whole."""

    model_config = ConfigDict(json_schema_extra={"example": {"echelon": "III.a"}})

    code: Omittable[PositionCode] = Field(default=None)
    title: Omittable[Name] = Field(default=None, description="Nama jabatan")
    echelon: str | None = Field(default=None, max_length=16, description="Eselon")
    unit: UnitCode | None = Field(default=None, description="Code of the unit it heads, or null")
    superior: PositionCode | None = Field(
        default=None, description="Code of the position it reports to, or null"
    )
    duties: Omittable[Lines] = Field(default=None, description="Tugas, one item each")
    functions: Omittable[Lines] = Field(default=None, description="Fungsi, one item each")
    activities: Omittable[Lines] = Field(default=None, description="Butir Kegiatan, one item each")


# Decrees -------------------------------------------------------------------------------------


class _Signatory(_Input):
    signatory: str | None = Field(
        default=None, max_length=255, description="Who signed the SK", examples=["Dr. REY"]
    )
    signatory_title: str | None = Field(
        default=None, max_length=255, description="The signatory's position"
    )
    signatory_rank: str | None = Field(default=None, max_length=100, description="Pangkat/golongan")
    signatory_nip: str | None = Field(
        default=None, max_length=50, description="NIP of the signatory"
    )


class DecreeCreate(_Signatory):
    """A new, empty SK of IKI for one year of an agency."""

    model_config = ConfigDict(
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
    number: str = Field(min_length=1, max_length=100, description="Nomor SK")
    title: str | None = Field(default=None, max_length=500, description="Title (tentang ...)")
    date: dt.date = Field(description="Date of enactment")
    year: Year


class DecreeUpdate(_Signatory):
    """Changes to a decree's header; fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"example": {"date": "2025-01-06"}})

    number: Omittable[DecreeNumber] = Field(default=None, description="Nomor SK")
    title: str | None = Field(default=None, max_length=500, description="Title (tentang ...)")
    date: Omittable[dt.date] = Field(default=None, description="Date of enactment")
    year: Omittable[Year] = Field(default=None)


class DecreeCopy(_Input):
    """The header of next year's SK, to start as a copy of this one's objectives and indicators."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"number": "000.8.6.3/01/425.109/2026", "date": "2026-01-05", "year": 2026}
        }
    )

    number: str = Field(min_length=1, max_length=100, description="Nomor SK of the new decree")
    date: dt.date = Field(description="Date of enactment of the new decree")
    year: Year
    title: str | None = Field(
        default=None,
        max_length=500,
        description="Title; by default the source's title, with its year replaced",
    )
    signatory: str | None = Field(
        default=None, max_length=255, description="By default the source's signatory"
    )
    signatory_title: str | None = Field(
        default=None, max_length=255, description="The signatory's position"
    )
    signatory_rank: str | None = Field(default=None, max_length=100, description="Pangkat/golongan")
    signatory_nip: str | None = Field(
        default=None, max_length=50, description="NIP of the signatory"
    )


# Objectives ----------------------------------------------------------------------------------


class ObjectiveCreate(_Input):
    """A new Sasaran Kinerja of a position in a decree."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "decree_id": 1,
                "position": "KADIS",
                "number": 6,
                "statement": "Meningkatnya kualitas pelayanan sosial dasar.",
            }
        }
    )

    decree_id: int = Field(
        ge=1, le=MAX_ID, description="Id of the decree it belongs to", examples=[1]
    )
    position: PositionCode = Field(description="Code of the position whose objective it is")
    number: int = Field(ge=1, le=999, description="Number in the SK", examples=[1])
    statement: Text = Field(description="The Sasaran Kinerja, verbatim")


class ObjectiveUpdate(_Input):
    """Changes to an objective; fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"example": {"number": 2}})

    position: Omittable[PositionCode] = Field(default=None, description="Code of the position")
    number: Omittable[SkNumber] = Field(default=None, description="Number in the SK")
    statement: Omittable[Text] = Field(default=None, description="The Sasaran Kinerja, verbatim")


# Indicators ----------------------------------------------------------------------------------

Formula = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Expression over the agency's variable codes; see `POST /formulas/check`",
        examples=["psks_diberdayakan / psks_terdata * 100"],
    ),
]


class IndicatorCreate(_Input):
    """A new Indikator Kinerja Individu under an objective (and so in the objective's decree)."""

    model_config = ConfigDict(
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

    objective_id: int = Field(
        ge=1, le=MAX_ID, description="Id of its objective (Sasaran Kinerja)", examples=[1]
    )
    code: IndicatorCode
    number: int | None = Field(
        default=None, ge=1, le=999, description="Number in the SK; by default the code's last part"
    )
    name: Text = Field(description="The indicator's name, verbatim")
    formula: Formula
    unit_of_measure: str = Field(
        min_length=1, max_length=50, description="Satuan", examples=["%", "laporan", "orang"]
    )
    polarity: Polarity = Field(
        default=Polarity.higher_is_better,
        description="`higher_is_better` or `lower_is_better` (e.g. a poverty rate)",
    )
    decimals: int = Field(default=2, ge=0, le=6, description="Decimals to show")
    explanation: str | None = Field(default=None, description="The SK's Penjelasan, verbatim")
    data_source: str | None = Field(default=None, description="The SK's Sumber Data, verbatim")
    source_units: list[UnitCode] = Field(
        default_factory=list, max_length=50, description="Codes of the units whose data it uses"
    )
    parent: IndicatorCode | None = Field(
        default=None, description="Code of the indicator (same decree) it cascades to"
    )
    notes: str | None = Field(default=None, description="Notes, e.g. discrepancies in the SK")

    @model_validator(mode="after")
    def _number_from_code(self) -> IndicatorCreate:
        if self.number is None:
            self.number = int(self.code.rsplit(".", 1)[1])
        return self


class IndicatorUpdate(_Input):
    """Changes to an indicator; fields left out stay as they are, source units are replaced."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"formula": "psks_diberdayakan / psks_terdata * 100"}}
    )

    objective_id: Omittable[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default=None, description="Id of an objective of the same decree"
    )
    code: Omittable[IndicatorCode] = Field(default=None)
    number: Omittable[SkNumber] = Field(default=None, description="Number in the SK")
    name: Omittable[Text] = Field(default=None, description="The indicator's name, verbatim")
    formula: Omittable[Formula] = Field(default=None)
    unit_of_measure: Omittable[Measure] = Field(default=None, description="Satuan")
    polarity: Omittable[Polarity] = Field(default=None)
    decimals: Omittable[Decimals] = Field(default=None, description="Decimals to show")
    explanation: str | None = Field(default=None, description="The SK's Penjelasan, verbatim")
    data_source: str | None = Field(default=None, description="The SK's Sumber Data, verbatim")
    source_units: Omittable[UnitCodes] = Field(
        default=None, description="Codes of the units whose data it uses"
    )
    parent: IndicatorCode | None = Field(
        default=None, description="Code of the indicator (same decree) it cascades to, or null"
    )
    notes: str | None = Field(default=None, description="Notes, e.g. discrepancies in the SK")


# Variables -----------------------------------------------------------------------------------


class _Range(_Input):
    @field_validator("max_value", check_fields=False)
    @classmethod
    def _max_not_below_min(cls, high: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_value")
        if low is not None and high is not None and low > high:
            raise ValueError(f"must not be less than min_value ({low:g})")
        return high


class VariableCreate(_Range):
    """A new reported quantity (komponen data) of an agency."""

    model_config = ConfigDict(
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
    code: VariableCode
    label: str = Field(min_length=1, max_length=500, description="Label as in the SK")
    unit_of_measure: str = Field(min_length=1, max_length=50, examples=["orang"])
    value_type: ValueType = Field(default=ValueType.integer, description="`integer` or `number`")
    aggregation: Aggregation = Field(
        description="How quarters combine into the year to date: `sum` (a flow), `last` (a "
        "stock), `max`, `min`, `avg`"
    )
    min_value: FiniteFloat | None = Field(
        default=0.0, description="Smallest allowed value; null for none"
    )
    max_value: FiniteFloat | None = Field(
        default=None, description="Largest allowed value; null for none"
    )
    owner_unit: UnitCode = Field(description="Code of the unit that reports it")
    description: str | None = Field(default=None, description="What exactly is counted")


class VariableUpdate(_Range):
    """Changes to a variable; fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"example": {"max_value": 100000}})

    code: Omittable[VariableCode] = Field(default=None)
    label: Omittable[Label] = Field(default=None, description="Label as in the SK")
    unit_of_measure: Omittable[Measure] = Field(default=None, examples=["orang"])
    value_type: Omittable[ValueType] = Field(default=None, description="`integer` or `number`")
    aggregation: Omittable[Aggregation] = Field(
        default=None, description="`sum`, `last`, `max`, `min`, `avg`"
    )
    min_value: FiniteFloat | None = Field(default=None, description="Smallest allowed value")
    max_value: FiniteFloat | None = Field(default=None, description="Largest allowed value")
    owner_unit: Omittable[UnitCode] = Field(
        default=None, description="Code of the unit that reports it"
    )
    description: str | None = Field(default=None, description="What exactly is counted")


# Formula check -------------------------------------------------------------------------------


class FormulaCheck(_Input):
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
    values: dict[str, Number] | None = Field(
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
    formula_error: str = Field(
        description="What is wrong: `syntax_error`, `not_allowed`, `unknown_variable`, "
        "`unknown_function`, `too_long`, `too_complex`, `literal_too_large`, "
        "`exponent_not_allowed` or `empty`"
    )
    offset: int | None = Field(
        default=None, description="0-based character offset of the fault in the formula"
    )
    name: str | None = Field(default=None, description="The variable or function at fault")
