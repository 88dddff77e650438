"""What the spreadsheets hold: a year's achievements up to a quarter per position with a
summary per unit, and the realization template a unit fills in. The numbers come from
`achievements` (never recomputed here); `app/api/xlsx.py` lays them out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from app.achievement import AchievementStatus
from app.formula import parse
from app.models import (
    Aggregation,
    DataValue,
    IndicatorSourceUnit,
    PeriodState,
    Unit,
    ValueType,
    Variable,
)
from app.schemas.achievements import AchievementPublic
from app.services import achievements, quality
from app.services.common import id_of, resolve_agency, unit_of_path
from app.services.queries import INDICATOR_ORDER, indicator_query, periods, require_decree

NO_UNIT = "-"  # the summary block of indicators that name no Sumber Data unit


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator's achievements at quarters 1..q (each year to date) and the codes of
    its Sumber Data units."""

    quarters: list[AchievementPublic]
    units: tuple[str, ...]

    @property
    def latest(self) -> AchievementPublic:
        """The achievement at the report's quarter."""
        return self.quarters[-1]


@dataclass(frozen=True)
class UnitSummary:
    """How a unit's indicators stand: how many of each status, and the average capaian of
    those whose status is ok (None when none is)."""

    code: str
    name: str
    indicators: int
    statuses: dict[str, int]
    average: float | None


@dataclass(frozen=True)
class AchievementReport:
    """The achievements of a year up to a quarter, in SK order, and a summary per unit."""

    year: int
    quarter: int
    verified_only: bool
    rows: list[IndicatorRow]
    units: list[UnitSummary]
    total: UnitSummary


def summarize(code: str, name: str, rows: Sequence[IndicatorRow]) -> UnitSummary:
    """Counts per status of `rows` at the report's quarter and the mean capaian of the ok ones."""
    statuses = {status.value: 0 for status in AchievementStatus}
    computed = []
    for row in rows:
        statuses[row.latest.status] = statuses.get(row.latest.status, 0) + 1
        if row.latest.status == AchievementStatus.ok and row.latest.achievement is not None:
            computed.append(row.latest.achievement)
    average = sum(computed) / len(computed) if computed else None
    return UnitSummary(code, name, len(rows), statuses, average)


def source_units(
    session: Session, indicator_ids: Sequence[int]
) -> tuple[defaultdict[int, tuple[str, ...]], dict[str, str]]:
    """The codes of each indicator's Sumber Data units (none: an empty tuple), and the names
    of those units by code, in one query."""
    sources: defaultdict[int, tuple[str, ...]] = defaultdict(tuple)
    names: dict[str, str] = {}
    for indicator_id, unit in session.exec(
        select(IndicatorSourceUnit.indicator_id, Unit)
        .join(Unit, Unit.id == IndicatorSourceUnit.unit_id)  # type: ignore[arg-type]
        .where(col(IndicatorSourceUnit.indicator_id).in_(indicator_ids))
        .order_by(col(Unit.code))
    ):
        sources[indicator_id] += (unit.code,)
        names[unit.code] = unit.name
    return sources, names


def achievement_report(
    session: Session, filters: achievements.AchievementFilters, quarter: int
) -> AchievementReport:
    """Achievements of the filters' indicators at quarters 1..`quarter`, with a summary per
    Sumber Data unit (only the filter's unit when it names one)."""
    require_decree(session, filters.year)
    found = achievements.up_to_quarter(session, filters, quarter)
    sources, names = source_units(session, [quarters[0].indicator.id for quarters in found])
    rows = [IndicatorRow(quarters, sources[quarters[0].indicator.id]) for quarters in found]
    by_unit: dict[str, list[IndicatorRow]] = defaultdict(list)
    for row in rows:
        for code in row.units or (NO_UNIT,):
            by_unit[code].append(row)
    wanted = [filters.unit] if filters.unit else sorted(by_unit)
    units = [
        summarize(code, names.get(code, "Tanpa Sumber Data"), by_unit[code])
        for code in wanted
        if code in by_unit
    ]
    return AchievementReport(
        filters.year,
        quarter,
        filters.verified_only,
        rows,
        units,
        summarize("", "Seluruh IKI", rows),
    )


@dataclass(frozen=True)
class TemplateRow:
    """A variable of the unit, as the template lists it."""

    code: str
    label: str
    unit_of_measure: str
    value_type: ValueType
    aggregation: Aggregation
    min_value: float | None
    max_value: float | None
    indicators: list[str]
    previous: float | None
    current: float | None
    note: str | None
    evidence: str | None = None


@dataclass(frozen=True)
class TemplateFinding:
    """A data-quality finding of the unit's previous quarter, as the template shows it."""

    severity: str
    message: str
    explanation: str | None


@dataclass(frozen=True)
class RealizationTemplate:
    """What a unit reports for a quarter: its variables, with context."""

    agency: str
    unit: str
    unit_name: str
    year: int
    quarter: int
    state: PeriodState
    rows: list[TemplateRow] = field(default_factory=list)
    previous: tuple[int, int] | None = None
    """The previous quarter (year, quarter) whose findings are shown."""
    previous_findings: list[TemplateFinding] = field(default_factory=list)
    """Its data-quality findings: as kept with its verification, or from the current data."""
    previous_verified: bool = False


def realization_template(
    session: Session, unit_code: str, agency_code: str | None, year: int, quarter: int
) -> RealizationTemplate:
    """The variables `unit_code` owns, in the order the year's SK first uses them, with the
    indicators using each, last quarter's value and the value (with its note and evidence)
    stored for the quarter."""
    agency = resolve_agency(session, agency_code)
    unit = unit_of_path(session, agency, unit_code, field="code")
    require_decree(session, year, agency)
    variables = list(
        session.exec(
            select(Variable).where(Variable.owner_unit_id == unit.id).order_by(col(Variable.code))
        )
    )
    using: dict[str, list[str]] = defaultdict(list)
    query = indicator_query(agency=agency.code, year=year).order_by(*INDICATOR_ORDER)
    for indicator in session.exec(query):
        for code in parse(indicator.formula).variables:
            using[code].append(indicator.code)
    previous_key = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    stored: dict[tuple[int, int, int], DataValue] = {
        (row.variable_id, row.year, row.quarter): row
        for row in session.exec(
            select(DataValue).where(
                col(DataValue.variable_id).in_([v.id for v in variables]),
                or_(
                    and_(col(DataValue.year) == year, col(DataValue.quarter) == quarter),
                    and_(
                        col(DataValue.year) == previous_key[0],
                        col(DataValue.quarter) == previous_key[1],
                    ),
                ),
            )
        )
    }
    # SK order: by the first indicator that uses a variable; unused ones last, by code.
    order = {code: n for n, code in enumerate(using)}
    variables.sort(key=lambda v: (order.get(v.code, len(order)), v.code))
    unit_id = id_of(unit)
    state = periods(session, {unit_id}, year, [quarter]).get((unit_id, quarter))
    found, verified = quality.kept_or_current(session, unit_id, *previous_key)
    return RealizationTemplate(
        agency=agency.code,
        unit=unit.code,
        unit_name=unit.name,
        year=year,
        quarter=quarter,
        state=state.state if state is not None else PeriodState.open,
        previous=previous_key,
        previous_findings=[
            TemplateFinding(f["severity"], f["message"], f.get("explanation")) for f in found
        ],
        previous_verified=verified,
        rows=[
            TemplateRow(
                code=v.code,
                label=v.label,
                unit_of_measure=v.unit_of_measure,
                value_type=v.value_type,
                aggregation=v.aggregation,
                min_value=v.min_value,
                max_value=v.max_value,
                indicators=using.get(v.code, []),
                previous=_value(stored.get((v.id or 0, *previous_key))),
                current=_value(current),
                note=current.note if current is not None else None,
                evidence=current.evidence if current is not None else None,
            )
            for v in variables
            for current in [stored.get((v.id or 0, year, quarter))]
        ],
    )


def _value(row: DataValue | None) -> float | None:
    return row.value if row is not None else None
