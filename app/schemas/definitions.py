"""Public (read) schemas of the definitions: agencies, units, positions, decrees, indicators."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.models import Aggregation, Polarity, ValueType


class _Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AgencyRef(_Schema):
    """An agency, briefly."""

    id: int = Field(examples=[1])
    code: str = Field(description="Stable agency code", examples=["DINSOSP3A"])
    name: str = Field(
        examples=["Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak Kota Probolinggo"]
    )


class AgencyPublic(AgencyRef):
    """A Perangkat Daerah (OPD)."""

    address: str | None = Field(
        default=None,
        description="Postal address",
        examples=["Jalan Raya Dringu No. 13, Kota Probolinggo, Jawa Timur 67271"],
    )
    phone: str | None = Field(default=None, description="Telephone", examples=["(0335) 421431"])
    email: str | None = Field(default=None, description="E-mail", examples=["dinas@kota.go.id"])
    website: str | None = Field(default=None, description="Website", examples=["dinas.kota.go.id"])


class UnitRef(_Schema):
    """A unit, briefly."""

    id: int = Field(examples=[2])
    code: str = Field(description="Unit code, unique in its agency", examples=["BID_PSM"])
    name: str = Field(examples=["Bidang Pemberdayaan Sosial dan Masyarakat"])


class UnitPublic(UnitRef):
    """A Bidang, Sekretariat or UPTD: the owner of reported data (Sumber Data)."""

    agency: AgencyRef


class PositionRef(_Schema):
    """A position, briefly."""

    id: int = Field(examples=[1])
    code: str = Field(description="Position code, unique in its agency", examples=["KADIS"])
    title: str = Field(
        examples=["Kepala Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak"]
    )


class PositionPublic(PositionRef):
    """A Jabatan with its Tugas, Fungsi and Butir Kegiatan as the SK lists them."""

    echelon: str | None = Field(default=None, description="Eselon", examples=["II.b"])
    agency: AgencyRef
    unit: UnitRef | None = Field(description="The unit it heads; none for the agency's head")
    superior: PositionRef | None = Field(description="The position it reports to")
    duties: list[str] = Field(description="Tugas, one item each")
    functions: list[str] = Field(description="Fungsi, one item each")
    activities: list[str] = Field(description="Butir Kegiatan, one item each")


class DecreeRef(_Schema):
    """A decree, briefly."""

    id: int = Field(examples=[1])
    number: str = Field(description="Nomor SK", examples=["000.8.6.3/06/425.109/2025"])
    year: int = Field(description="Year of effect", examples=[2025])


class DecreePublic(DecreeRef):
    """An SK fixing one year's IKI of an agency."""

    agency: AgencyRef
    title: str | None = Field(default=None, description="Title (tentang ...)")
    date: dt.date = Field(description="Date of enactment", examples=["2025-01-03"])
    signatory: str | None = Field(default=None, examples=["Dr. REY SUWIGTYO, S.Sos., M.Si."])
    signatory_title: str | None = Field(default=None, description="The signatory's position")
    signatory_rank: str | None = Field(
        default=None, description="Pangkat/golongan", examples=["Pembina Utama Muda"]
    )
    signatory_nip: str | None = Field(default=None, description="NIP of the signatory")


class ObjectiveRef(_Schema):
    """A Sasaran Kinerja."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(examples=[1])
    statement: str = Field(
        examples=[
            "Meningkatnya Kualitas dan Kemampuan Penyandang Masalah Kesejahteraan Sosial (PMKS)."
        ]
    )


class VariablePublic(_Schema):
    """A reported quantity (komponen data), reported once per quarter by its owner unit."""

    id: int = Field(description="Variable id", examples=[2])
    code: str = Field(description="snake_case, unique in its agency", examples=["psks_terdata"])
    label: str = Field(
        description="Label as in the SK", examples=["Total Jumlah PSKS yang terdata"]
    )
    unit_of_measure: str = Field(examples=["orang"])
    value_type: ValueType = Field(description="`integer` counts or `number`")
    aggregation: Aggregation = Field(
        description="How quarters combine into the year to date: `sum` (a flow), `last` (a "
        "stock), `max`, `min`, `avg`"
    )
    min_value: float | None = Field(description="Smallest allowed value", examples=[0])
    max_value: float | None = Field(description="Largest allowed value, if any", examples=[None])
    description: str | None = Field(default=None, description="What exactly is counted")
    owner_unit: UnitRef = Field(description="The unit that reports it")


class IndicatorRef(_Schema):
    """An indicator, briefly."""

    id: int = Field(description="Indicator id", examples=[1])
    code: str = Field(examples=["KADIS.1.1"])


class ObjectivePublic(ObjectiveRef):
    """A Sasaran Kinerja of a position in a decree, with the codes of its indicators."""

    decree: DecreeRef
    position: PositionRef
    indicators: list[IndicatorRef] = Field(description="Its indicators, in SK order")


class IndicatorPublic(_Schema):
    """An Indikator Kinerja Individu with its formula, variables and place in the SK."""

    id: int = Field(examples=[1])
    code: str = Field(description="POSITION.objective.number", examples=["KADIS.1.1"])
    number: int = Field(description="Number in the SK", examples=[1])
    name: str = Field(
        examples=[
            "Persentase Potensi Sumber Kesejahteraan Sosial yang mendapatkan Pemberdayaan Sosial"
        ]
    )
    formula: str = Field(
        description="Expression over variable codes",
        examples=["psks_diberdayakan / psks_terdata * 100"],
    )
    formula_description: str = Field(
        description="The formula in words, from the variables' labels",
        examples=[
            "(Jumlah PSKS yang mendapatkan Pemberdayaan Sosial / Total Jumlah PSKS yang terdata)"
            " x 100"
        ],
    )
    formula_latex: str = Field(description="The formula as LaTeX, for documents")
    variables: list[VariablePublic] = Field(description="The variables the formula uses")
    unit_of_measure: str = Field(examples=["%"])
    polarity: Polarity
    decimals: int = Field(description="Decimals to show", examples=[2])
    objective: ObjectiveRef
    position: PositionRef
    decree: DecreeRef
    agency: AgencyRef
    explanation: str | None = Field(description="The SK's Penjelasan/Formulasi, verbatim")
    data_source: str | None = Field(description="The SK's Sumber Data, verbatim")
    source_units: list[UnitRef] = Field(description="Units whose data it uses")
    parent: IndicatorRef | None = Field(description="The indicator it cascades to, if any")
    notes: str | None = Field(description="Notes, e.g. discrepancies in the SK and their encoding")


class IkiObjective(_Schema):
    """A Sasaran Kinerja with its indicators, as in the SK lampiran."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(description="Number in the SK", examples=[1])
    statement: str = Field(description="The Sasaran Kinerja, verbatim")
    indicators: list[IndicatorPublic]


class IkiDocument(_Schema):
    """A position's IKI for one year: the lampiran of the SK for that Jabatan."""

    position: PositionPublic
    decree: DecreePublic
    objectives: list[IkiObjective]
