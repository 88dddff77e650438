"""Dasbor: how an agency stands in a year up to a quarter, for the leadership.

`GET /dasbor` shows, for the year and quarter of its filters (year to date, as
`GET /api/v1/achievements?quarter=` computes it), every indicator grouped by its Sumber Data
unit then by position in SK order, with realisasi, target, capaian, predikat, status and
verification state and its capaian at each quarter; the count per predikat; a chart of each
unit's mean capaian against the target; a chart per position of its indicators' capaian
quarter by quarter; and links to each position's report (PDF) and the workbook. Its numbers
come from the same services as the API's, in a fixed number of queries (the four quarters
in one computation). The two documents it links to are answered by the functions the API's
routes call.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app.achievement.rating import Band, rate
from app.api import xlsx
from app.api.documents import DocumentFormat, position_report
from app.core.errors import NotFound
from app.core.text import indonesian_number
from app.core.types import AgencyCode, Id, Quarter, UnitCode, Year
from app.models import Agency, Capability, Decree, Position, Unit
from app.pages.web import STATES, Person, ReadSession, need, page_router, render
from app.schemas.achievements import AchievementPublic
from app.services import achievements, charts
from app.services.achievements import AchievementFilters, rating_scales
from app.services.documents import REASON_LABELS, ROMAN, STATUS_LABELS, quality_flag
from app.services.queries import no_decree
from app.services.workbooks import NO_UNIT, IndicatorRow, source_units, summarize

router = page_router()

NO_UNIT_NAME = "Tanpa unit sumber data"
QUARTER_NAMES = {q: f"TW {ROMAN[q - 1]}" for q in (1, 2, 3, 4)}
# The charts as drawn for a screen (the documents draw them wider): their text stays
# readable on a phone, where they are shrunk to its width.
CHART_WIDTH, CHART_HEIGHT = 480, 300
QUARTER_MONTHS = {1: "Jan–Mar", 2: "Jan–Jun", 3: "Jan–Sep", 4: "Jan–Des"}

# A filter as the address carries it: empty (the form's "all") is no filter.
CodeQuery = Annotated[str | None, Query(max_length=64)]


def _code(value: str | None) -> str | None:
    return value.strip() or None if value else None


# What the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Rated:
    """A predikat as shown: its label and its colour (None: no swatch colour)."""

    label: str
    color: str | None


@dataclass(frozen=True)
class IndicatorLine:
    """A row of the table: one indicator's capaian up to the quarter, formatted."""

    id: int
    code: str
    name: str
    unit_of_measure: str
    target: str
    realization: str
    achievement: str
    rating: Rated | None
    status: str
    reason: str | None
    flag: str | None  # what the data-quality checks found that touches it
    state: str
    state_label: str
    trend: list[str]


@dataclass
class PositionGroup:
    """A position's indicators within a unit."""

    id: int | None
    code: str
    title: str
    lines: list[IndicatorLine] = field(default_factory=list)


@dataclass
class UnitGroup:
    """A Sumber Data unit: its mean capaian and its positions' indicators."""

    code: str
    name: str
    indicators: int
    average: float | None
    positions: list[PositionGroup]


@dataclass(frozen=True)
class Count:
    """How many indicators have a predikat."""

    label: str
    color: str | None
    count: int


@dataclass(frozen=True)
class Trend:
    """A position's chart of its indicators' capaian quarter by quarter."""

    id: int | None
    code: str
    title: str
    chart: str
    report: str | None  # the address of its report (PDF)


@dataclass(frozen=True)
class Chosen:
    """The filters the page shows, after the defaults."""

    agency: Agency
    year: int | None
    quarter: int
    unit: str | None
    position: str | None


# The filters -------------------------------------------------------------------------------


def _agencies(session: Session) -> list[Agency]:
    return list(session.exec(select(Agency).order_by(col(Agency.code))))


def _agency_of(
    session: Session, agencies: Sequence[Agency], code: str | None, unit_ids: frozenset[int]
) -> Agency:
    """The agency asked for; else the agency of the person's units; else the first by code."""
    by_code = {a.code: a for a in agencies}
    if code is not None:
        if code not in by_code:
            raise NotFound(f"Agency {code} does not exist", field="agency")
        return by_code[code]
    if unit_ids:
        own = session.exec(
            select(Unit.agency_id).where(col(Unit.id).in_(unit_ids)).order_by(col(Unit.id))
        ).first()
        found = next((a for a in agencies if a.id == own), None)
        if found is not None:
            return found
    return agencies[0]


def _current_quarter(year: int) -> int:
    today = dt.date.today()
    return (today.month - 1) // 3 + 1 if today.year == year else 4


def _choose(
    agency: Agency,
    years: Sequence[int],
    tahun: int | None,
    triwulan: int | None,
    unit: str | None,
    position: str | None,
    units: Sequence[Unit],
    positions: Sequence[Position],
) -> Chosen:
    if tahun is not None and tahun not in years:
        raise no_decree(tahun, years, f"agency {agency.code}")
    year = tahun if tahun is not None else (max(years) if years else None)
    quarter = triwulan or (_current_quarter(year) if year is not None else 4)
    if unit is not None and unit not in {u.code for u in units}:
        raise NotFound(f"Unit {unit} is not a unit of agency {agency.code}", field="unit")
    if position is not None and position not in {p.code for p in positions}:
        raise NotFound(
            f"Position {position} is not a position of agency {agency.code}", field="jabatan"
        )
    return Chosen(agency, year, quarter, unit, position)


# The numbers -------------------------------------------------------------------------------


def _rated(found: AchievementPublic) -> Rated | None:
    if found.rating is None:
        return None
    return Rated(found.rating.label, charts.printable_color(found.rating.color))


def _line(found: AchievementPublic, trend: Sequence[float | None]) -> IndicatorLine:
    indicator = found.indicator
    places = indicator.decimals
    return IndicatorLine(
        id=indicator.id,
        code=indicator.code,
        name=indicator.name,
        unit_of_measure=indicator.unit_of_measure,
        target=indonesian_number(found.target, places),
        realization=indonesian_number(found.realization, places),
        achievement=indonesian_number(found.achievement, 2),
        rating=_rated(found),
        status=STATUS_LABELS.get(found.status, found.status),
        reason=REASON_LABELS.get(found.reason, found.reason) if found.reason else None,
        flag=quality_flag(found.quality),
        state=found.verification,
        state_label=STATES.get(found.verification, found.verification),
        trend=[charts.percent(value) for value in trend],
    )


def _counts(rows: Sequence[IndicatorRow], bands: Sequence[Rated]) -> tuple[list[Count], int]:
    """How many indicators have each predikat of the scale (and any other they carry, e.g.
    sealed under a former scale), and how many have no capaian."""
    found = Counter(r for row in rows if (r := _rated(row.latest)) is not None)
    counts = [Count(b.label, b.color, found.pop(b, 0)) for b in bands]
    counts += [Count(r.label, r.color, n) for r, n in found.items()]
    without = sum(1 for row in rows if row.latest.achievement is None)
    return counts, without


def _groups(
    rows: Sequence[IndicatorRow],
    trend: dict[int, list[float | None]],
    units: Sequence[Unit],
    wanted: str | None,
    positions: dict[str, Position],
) -> list[UnitGroup]:
    """The rows by Sumber Data unit (in the agency's order; an indicator of several units
    under each), then by position in SK order; only the unit filtered on, if any."""
    by_unit: dict[str, list[IndicatorRow]] = {}
    for row in rows:
        for code in row.units or (NO_UNIT,):
            by_unit.setdefault(code, []).append(row)
    names = {u.code: u.name for u in units} | {NO_UNIT: NO_UNIT_NAME}
    groups = []
    for code in [u.code for u in units] + [NO_UNIT]:
        if code not in by_unit or (wanted is not None and code != wanted):
            continue
        summary = summarize(code, names[code], by_unit[code])
        by_position: dict[str, PositionGroup] = {}
        for row in by_unit[code]:
            shown = row.latest.position
            position = positions.get(shown.code)
            group = by_position.setdefault(
                shown.code,
                PositionGroup(position.id if position else None, shown.code, shown.title),
            )
            group.lines.append(_line(row.latest, trend.get(row.latest.indicator.id, [])))
        groups.append(
            UnitGroup(
                code, names[code], summary.indicators, summary.average, list(by_position.values())
            )
        )
    return groups


def _report_address(position_id: int | None, year: int, quarter: int) -> str | None:
    if position_id is None:
        return None
    query = urlencode({"tahun": year, "triwulan": quarter})
    return f"/dasbor/jabatan/{position_id}/laporan.pdf?{query}"


def _trends(
    rows: Sequence[IndicatorRow],
    trend: dict[int, list[float | None]],
    positions: dict[str, Position],
    year: int,
    quarter: int,
) -> list[Trend]:
    """A chart per position, of its indicators' capaian at each of the four quarters."""
    series: dict[str, list[tuple[str, list[float | None]]]] = {}
    titles: dict[str, str] = {}
    for row in rows:
        shown, indicator = row.latest.position, row.latest.indicator
        titles[shown.code] = shown.title
        series.setdefault(shown.code, []).append((indicator.code, trend.get(indicator.id, [])))
    trends = []
    for code, items in series.items():
        position = positions.get(code)
        ident = position.id if position else None
        chart = charts.trend_chart(
            f"Tren capaian {code}", charts.lines(items), width=CHART_WIDTH, height=CHART_HEIGHT
        )
        trends.append(
            Trend(ident, code, titles[code], chart, _report_address(ident, year, quarter))
        )
    return trends


# The pages ---------------------------------------------------------------------------------


@router.get("/dasbor", response_class=HTMLResponse)
def dashboard(
    request: Request,
    signed_in: Person,
    session: ReadSession,
    tahun: Annotated[Year | None, Query()] = None,
    triwulan: Annotated[Quarter | None, Query()] = None,
    unit: CodeQuery = None,
    jabatan: CodeQuery = None,
    agency: CodeQuery = None,
) -> Response:
    need(signed_in, Capability.read_achievements)
    agencies = _agencies(session)
    context: dict[str, Any] = {
        "title": "Dasbor",
        "signed_in": signed_in,
        "width": "80rem",
        "agencies": agencies,
        "agency_choices": [Choice(a.code, f"{a.code} — {a.name}") for a in agencies],
    }
    if not agencies:
        return render(request, "dasbor.html", chosen=None, **context)
    chosen_agency = _agency_of(session, agencies, _code(agency), signed_in.principal.unit_ids)
    years = list(
        session.exec(
            select(Decree.year)
            .where(Decree.agency_id == chosen_agency.id)
            .distinct()
            .order_by(col(Decree.year).desc())
        )
    )
    units = list(
        session.exec(select(Unit).where(Unit.agency_id == chosen_agency.id).order_by(col(Unit.id)))
    )
    positions = list(
        session.exec(
            select(Position)
            .where(Position.agency_id == chosen_agency.id)
            .order_by(col(Position.id))
        )
    )
    chosen = _choose(
        chosen_agency, years, tahun, triwulan, _code(unit), _code(jabatan), units, positions
    )
    context |= {
        "chosen": chosen,
        "years": [Choice(str(y), str(y)) for y in years],
        "quarters": [
            Choice(str(q), f"{QUARTER_NAMES[q]} ({QUARTER_MONTHS[q]})") for q in (1, 2, 3, 4)
        ],
        "units": [Choice(u.code, f"{u.code} — {u.name}") for u in units],
        "positions": [Choice(p.code, f"{p.code} — {p.title}") for p in positions],
        "quarter_names": list(QUARTER_NAMES.values()),
    }
    if chosen.year is None:  # the agency has no decree (SK) yet
        return render(request, "dasbor.html", **context)
    context |= _figures(session, chosen, units, positions)
    return render(request, "dasbor.html", **context)


def _figures(
    session: Session, chosen: Chosen, units: Sequence[Unit], positions: Sequence[Position]
) -> dict[str, Any]:
    """What the page shows of the agency's year up to the quarter, in a fixed number of
    queries: the rows, the counts, the charts and the documents' addresses."""
    agency, year, quarter = chosen.agency, chosen.year, chosen.quarter
    assert year is not None
    filters = AchievementFilters(
        year=year, agency=agency.code, unit=chosen.unit, position=chosen.position
    )
    # The quarter as the API answers it; then the capaian of quarters 1..4 in one batch.
    found = achievements.at_quarter(session, filters, quarter)
    ids = [a.indicator.id for a in found]
    trend = achievements.capaian_by_quarter(session, ids, year, [1, 2, 3, 4])
    sources, _ = source_units(session, ids)
    rows = [IndicatorRow([a], sources[a.indicator.id]) for a in found]
    bands = rating_scales(session, {agency.id or 0: agency.rating_scale_id})[agency.id or 0].bands
    by_code = {p.code: p for p in positions}
    groups = _groups(rows, trend, units, chosen.unit, by_code)
    counts, without = _counts(
        rows, [Rated(b.label, charts.printable_color(b.color)) for b in bands]
    )
    bars = tuple(
        charts.Bar(
            group.code if group.code != NO_UNIT else "Tanpa unit",
            group.average,
            _band_color(group.average, bands),
        )
        for group in groups
    )
    workbook: dict[str, Any] = {"tahun": year, "triwulan": quarter, "agency": agency.code}
    if chosen.unit:
        workbook["unit"] = chosen.unit
    return {
        "groups": groups,
        "counts": counts,
        "without": without,
        "total": len(rows),
        "unit_chart": charts.capaian_chart(
            f"Rata-rata capaian per unit s.d. {QUARTER_NAMES[quarter]}",
            bars,
            width=CHART_WIDTH,
            height=CHART_HEIGHT,
        ),
        "trends": _trends(rows, trend, by_code, year, quarter),
        "workbook": f"/dasbor/capaian.xlsx?{urlencode(workbook)}",
        "report_address": _report_address,
    }


def _band_color(value: float | None, bands: Sequence[Band]) -> str | None:
    rating = rate(value, bands)
    return charts.printable_color(rating.color) if rating else None


@router.get("/dasbor/jabatan/{position_id}/laporan.pdf")
def position_report_pdf(
    signed_in: Person,
    session: ReadSession,
    position_id: Annotated[Id, Path()],
    tahun: Annotated[Year, Query()],
    triwulan: Annotated[Quarter, Query()],
) -> Response:
    """A position's capaian report (PDF), as `GET /api/v1/positions/{id}/report` makes it."""
    need(signed_in, Capability.read_achievements)
    return position_report(session, DocumentFormat.pdf, position_id, tahun, triwulan)


@router.get("/dasbor/capaian.xlsx")
def achievements_workbook(
    signed_in: Person,
    session: ReadSession,
    tahun: Annotated[Year, Query()],
    triwulan: Annotated[Quarter, Query()] = 4,
    agency: Annotated[AgencyCode | None, Query()] = None,
    unit: Annotated[UnitCode | None, Query()] = None,
) -> Response:
    """The achievements workbook, as `GET /api/v1/reports/achievements.xlsx` makes it."""
    need(signed_in, Capability.read_achievements)
    filters = AchievementFilters(year=tahun, agency=agency, unit=unit)
    return xlsx.achievements_attachment(session, filters, triwulan)
