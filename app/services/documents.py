"""Printable documents: the SK, a position's IKI (its lampiran; as JSON, `iki_document`) and a
position's capaian report for a quarter, gathered into view models that the templates in
`app/templates/` lay out.

Every text here is data (escaped by the templates) except `SheetIndicator.formula_html`, which
`app.formula.to_html` writes with each label escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.core.text import breakable, indonesian_number
from app.formula import parse, to_html
from app.models import DataValue, Decree, Indicator, Objective, Position, Variable
from app.schemas.achievements import AchievementQuality
from app.schemas.data_values import web_link
from app.schemas.decrees import DecreePublic
from app.schemas.documents import IkiDocument, IkiObjective
from app.schemas.indicators import IndicatorPublic
from app.schemas.organization import AgencyPublic
from app.schemas.rating_scales import Rating
from app.services import charts, decrees, organization
from app.services.achievements import compute_for
from app.services.charts import printable_color
from app.services.common import get_or_404, id_of
from app.services.indicators import indicator_views

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
ROMAN = ("I", "II", "III", "IV")
STATUS_LABELS = {
    "ok": "Lengkap",
    "no_data": "Belum ada data",
    "partial_data": "Data belum lengkap",
    "undefined": "Tidak dapat dihitung",
    "no_target": "Belum ada target",
}
VERIFICATION_LABELS = {
    "open": "Belum diajukan",
    "submitted": "Diajukan",
    "returned": "Dikembalikan",
    "verified": "Terverifikasi",
    "mixed": "Sebagian terverifikasi",
}
REASON_LABELS = {
    "no_values": "belum ada nilai",
    "missing_values": "nilai belum lengkap",
    "division_by_zero": "pembagian dengan nol",
    "zero_target": "target nol",
    "no_target": "target belum ditetapkan",
    "not_verified": "data belum terverifikasi",
}
_REGION = re.compile(r"^(?P<body>.+?)\s+(?P<region>(?:Kota|Kabupaten|Provinsi)\s+.+)$")


def indonesian_date(day: dt.date) -> str:
    """A date as Indonesian letters write it: "3 Januari 2025"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def rating_color(rating: Rating | None) -> str | None:
    """The colour of a rating band when it is a plain `#rrggbb` (it goes into a style)."""
    return printable_color(rating.color) if rating is not None else None


# The IKI of a position (a lampiran of the SK) -----------------------------------------------


@dataclass(frozen=True)
class SheetIndicator:
    """A row of the lampiran table: an indicator, its formula as a fraction, its data source."""

    code: str
    number: int
    name: str
    formula_html: str
    data_source: str | None


@dataclass(frozen=True)
class SheetObjective:
    """A Sasaran Kinerja and its indicators (rows of the table)."""

    number: int
    statement: str
    indicators: list[SheetIndicator]


@dataclass(frozen=True)
class Lampiran:
    """A position's IKI as the SK's lampiran lays it out: header, then the table."""

    position_code: str
    position_title: str
    duties: list[str]
    functions: list[str]
    activities: list[str]
    objectives: list[SheetObjective]
    decree_number: str
    year: int


def iki_document(session: Session, position_id: int, year: int) -> IkiDocument:
    """A position's IKI for a year: its objectives and their indicators, in SK order."""
    position = get_or_404(session, Position, position_id, "Position")
    decree = decrees.decree_of_position(session, position, year)
    objectives = session.exec(
        select(Objective)
        .where(Objective.decree_id == decree.id, Objective.position_id == position.id)
        .order_by(col(Objective.number))
    )
    by_objective: dict[int, list[IndicatorPublic]] = {}
    for view in indicator_views(session, _position_indicators(session, position, year)):
        by_objective.setdefault(view.objective.id, []).append(view)
    return IkiDocument(
        position=organization.position_views(session, [position])[0],
        decree=decrees.decree_views(session, [decree])[0],
        objectives=[
            IkiObjective.model_validate(o, update={"indicators": by_objective.get(id_of(o), [])})
            for o in objectives
        ],
    )


def formula_fraction(indicator: IndicatorPublic) -> str:
    """An indicator's formula as the SK prints it: HTML with each division a fraction, each
    variable by its label (escaped), "x 100%" for a percentage. The fraction is markup that
    templates print as it is: its labels break here."""
    labels = {v.code: breakable(v.label) for v in indicator.variables}
    return to_html(parse(indicator.formula), labels, percent=indicator.unit_of_measure == "%")


def _lampiran(doc: IkiDocument) -> Lampiran:
    objectives = []
    for objective in doc.objectives:
        rows = []
        for ind in objective.indicators:
            formula = formula_fraction(ind)
            rows.append(SheetIndicator(ind.code, ind.number, ind.name, formula, ind.data_source))
        objectives.append(SheetObjective(objective.number, objective.statement, rows))
    return Lampiran(
        position_code=doc.position.code,
        position_title=doc.position.title,
        duties=list(doc.position.duties),
        functions=list(doc.position.functions),
        activities=list(doc.position.activities),
        objectives=objectives,
        decree_number=doc.decree.number,
        year=doc.decree.year,
    )


def iki_lampiran(session: Session, position_id: int, year: int) -> Lampiran:
    """A position's IKI of a year, laid out as the SK's lampiran."""
    return _lampiran(iki_document(session, position_id, year))


# The whole SK ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letterhead:
    """The kop surat: the government, the agency, its address and contacts."""

    government: str
    agency: str
    address: str | None
    phone: str | None
    email: str | None
    website: str | None


def letterhead(agency: AgencyPublic) -> Letterhead:
    """The letterhead of `agency`: "PEMERINTAH KOTA X" over the agency's name without the
    region, as the SK's kop has it."""
    match = _REGION.match(agency.name)
    body, region = (match["body"], match["region"]) if match else (agency.name, "")
    government = f"PEMERINTAH {region}".upper() if region else ""
    return Letterhead(
        government=government,
        agency=body.upper(),
        address=agency.address,
        phone=agency.phone,
        email=agency.email,
        website=agency.website,
    )


@dataclass(frozen=True)
class DecreeDocument:
    """The SK: letterhead, body, signature, then each position's lampiran."""

    letterhead: Letterhead
    decree: DecreePublic
    date: str
    lampiran: list[Lampiran]


def _positions_in_order(session: Session, decree_id: int) -> list[Position]:
    """The decree's positions: the head of the agency first, then in the order seeded."""
    positions = session.exec(
        select(Position)
        .where(
            col(Position.id).in_(
                select(Objective.position_id).where(Objective.decree_id == decree_id)
            )
        )
        .order_by(col(Position.id))
    ).all()
    return sorted(positions, key=lambda p: p.superior_id is not None)


def decree_document(session: Session, decree_id: int) -> DecreeDocument:
    """The whole SK of `decree_id` with the lampiran of every position."""
    decree = decrees.get_decree(session, decree_id)
    agency = organization.get_agency(session, decree.agency.id)
    sheets = [
        iki_lampiran(session, position.id or 0, decree.year)
        for position in _positions_in_order(session, decree.id)
    ]
    return DecreeDocument(letterhead(agency), decree, indonesian_date(decree.date), sheets)


# The capaian report of a position ------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """A data value's bukti dukung: its text, and a link only for an http(s) URL."""

    quarter: int
    text: str
    url: str | None


@dataclass(frozen=True)
class ReportVariable:
    """A variable behind an indicator: its year-to-date value and its evidence."""

    code: str
    label: str
    value: str
    evidence: list[Evidence]


@dataclass(frozen=True)
class ReportRow:
    """One indicator's capaian up to the quarter, each number formatted for print."""

    code: str
    name: str
    unit_of_measure: str
    target: str
    quarters: list[str]
    realization: str
    achievement: str
    rating: str
    rating_color: str | None
    status: str
    reason: str | None
    verification: str
    variables: list[ReportVariable]
    flag: str | None = None
    """What the data-quality checks found that touches the figure ("2 galat, 1 peringatan"),
    when they found an error or a warning: the realisasi and capaian are marked."""


def quality_flag(quality: AchievementQuality) -> str | None:
    """The mark of a figure the data-quality checks flagged, in Indonesian; None if clean."""
    parts = [
        f"{count} {name}"
        for count, name in ((quality.error, "galat"), (quality.warning, "peringatan"))
        if count
    ]
    if not parts:
        return None
    explained = ""
    if quality.error:
        explained = (
            " (galat telah dijelaskan)" if quality.errors_explained else " (galat belum dijelaskan)"
        )
    return ", ".join(parts) + explained


@dataclass(frozen=True)
class SheetSignatory:
    """Who signs the report off: the signatory of the year's SK."""

    place: str | None
    title: str | None
    name: str | None
    rank: str | None
    nip: str | None


@dataclass(frozen=True)
class AchievementReport:
    """A position's capaian for quarters 1..quarter of a year."""

    letterhead: Letterhead
    position_title: str
    year: int
    quarter: int
    quarter_names: list[str]
    rows: list[ReportRow]
    signatory: SheetSignatory
    chart: str
    """Capaian against the target, a bar per indicator in its predikat's colour (SVG)."""
    trend: str
    """Each indicator's capaian quarter by quarter up to the report's (SVG)."""

    @property
    def flagged(self) -> bool:
        """Whether a figure is marked (the legend is printed)."""
        return any(row.flag for row in self.rows)


def _position_indicators(session: Session, position: Position, year: int) -> list[Indicator]:
    return list(
        session.exec(
            select(Indicator)
            .join(Objective, Objective.id == Indicator.objective_id)  # type: ignore[arg-type]
            .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
            .where(Objective.position_id == position.id, Decree.year == year)
            .order_by(col(Objective.number), col(Indicator.number))
        )
    )


def _evidence(
    session: Session, variables: list[Variable], year: int, quarter: int
) -> dict[int, list[Evidence]]:
    found: dict[int, list[Evidence]] = {}
    rows = session.exec(
        select(DataValue)
        .where(
            col(DataValue.variable_id).in_([v.id for v in variables]),
            DataValue.year == year,
            DataValue.quarter <= quarter,
            col(DataValue.evidence).is_not(None),
        )
        .order_by(col(DataValue.quarter))
    )
    for row in rows:
        text = (row.evidence or "").strip()
        if text:
            found.setdefault(row.variable_id, []).append(
                Evidence(row.quarter, text, web_link(text))
            )
    return found


def achievement_report(
    session: Session, position_id: int, year: int, quarter: int, *, verified_only: bool = False
) -> AchievementReport:
    """A position's capaian for `quarter` of `year`: the numbers of `compute_for` (the
    sealed official figures, verified only), formatted."""
    position = get_or_404(session, Position, position_id, "Position")
    decree = decrees.decree_of_position(session, position, year)
    indicators = _position_indicators(session, position, year)
    quarters = list(range(1, quarter + 1))
    results = compute_for(
        session, [i.id or 0 for i in indicators], year, quarters, verified_only=verified_only
    )
    codes = {code for ind in indicators for code in parse(ind.formula).variables}
    variables = list(
        session.exec(
            select(Variable).where(
                Variable.agency_id == position.agency_id, col(Variable.code).in_(codes)
            )
        )
    )
    by_code = {v.code: v for v in variables}
    evidence = _evidence(session, variables, year, quarter)
    rows = []
    series = []
    for index, ind in enumerate(indicators):
        per_quarter = results[index * quarter : (index + 1) * quarter]
        series.append((ind.code, per_quarter))
        last = per_quarter[-1]
        places = ind.decimals
        rows.append(
            ReportRow(
                code=ind.code,
                name=ind.name,
                unit_of_measure=ind.unit_of_measure,
                target=indonesian_number(last.target, places),
                quarters=[indonesian_number(r.quarter_realization, places) for r in per_quarter],
                realization=indonesian_number(last.realization, places),
                achievement=indonesian_number(last.achievement, 2),
                rating=last.rating.label if last.rating else "-",
                rating_color=rating_color(last.rating),
                status=STATUS_LABELS.get(last.status, last.status),
                reason=REASON_LABELS.get(last.reason, last.reason) if last.reason else None,
                verification=VERIFICATION_LABELS.get(last.verification, last.verification),
                flag=quality_flag(last.quality),
                variables=[
                    ReportVariable(
                        code=code,
                        label=by_code[code].label,
                        value=indonesian_number(
                            value, 0 if by_code[code].value_type == "integer" else places
                        ),
                        evidence=evidence.get(by_code[code].id or 0, []),
                    )
                    for code, value in last.values.items()
                ],
            )
        )
    agency = organization.get_agency(session, position.agency_id)
    quarter_names = [f"TW {ROMAN[q - 1]}" for q in quarters]
    return AchievementReport(
        letterhead=letterhead(agency),
        position_title=position.title,
        year=year,
        quarter=quarter,
        quarter_names=quarter_names,
        rows=rows,
        signatory=SheetSignatory(
            place=decree.place,
            title=decree.signatory_title,
            name=decree.signatory,
            rank=decree.signatory_rank,
            nip=decree.signatory_nip,
        ),
        chart=charts.capaian_chart(
            f"Capaian terhadap target s.d. {quarter_names[-1]}",
            charts.bars((code, found[-1]) for code, found in series),
        ),
        trend=charts.trend_chart(
            "Tren capaian per triwulan",
            charts.lines((code, [a.achievement for a in found]) for code, found in series),
            tuple(quarter_names),
        ),
    )
