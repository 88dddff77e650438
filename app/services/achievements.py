"""Capaian out: achievements of many indicators at once, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.achievement import (
    DEFAULT_BANDS,
    AchievementStatus,
    Band,
    IndicatorSpec,
    compute,
    quarters_needed,
    verification,
)
from app.achievement.rating import sorted_bands
from app.formula import CheckedFormula, FormulaError, parse
from app.models import (
    Agency,
    DataValue,
    Decree,
    Indicator,
    Objective,
    Period,
    PeriodState,
    Polarity,
    Position,
    RatingScale,
    Target,
    Unit,
    Variable,
)
from app.schemas.achievements import AchievementIndicator, AchievementPosition, AchievementPublic
from app.schemas.common import PageParams
from app.schemas.rating_scales import Rating
from app.services import changes, workflow
from app.services.changes import Cursor
from app.services.common import by_id, paginate
from app.services.decrees import INDICATOR_ORDER, indicator_in_year, indicator_query


@dataclass(frozen=True)
class AchievementFilters:
    """Which indicators to compute: all of `year`, narrowed by codes and change time."""

    year: int
    agency: str | None = None
    unit: str | None = None
    position: str | None = None
    indicator: str | None = None
    updated_since: dt.datetime | None = None
    cursor: Cursor | None = None
    verified_only: bool = False


@dataclass(frozen=True)
class Scale:
    """The rating bands an agency uses, and when they last changed (None: built in)."""

    bands: tuple[Band, ...]
    updated_at: dt.datetime | None


def rating_scales(session: Session, agencies: Sequence[Agency]) -> dict[int, Scale]:
    """Each agency's rating scale: its own, else the installation default, else
    Permendagri 86/2017 as built in."""
    wanted = {a.rating_scale_id for a in agencies if a.rating_scale_id}
    rows = session.exec(
        select(RatingScale).where(or_(col(RatingScale.is_default), col(RatingScale.id).in_(wanted)))
    ).all()
    scales = {
        r.id: Scale(sorted_bands([Band.from_mapping(b) for b in r.bands]), r.updated_at)
        for r in rows
    }
    default = next((r for r in rows if r.is_default), None)
    fallback = scales[default.id] if default else Scale(DEFAULT_BANDS, None)
    return {a.id or 0: scales.get(a.rating_scale_id, fallback) for a in agencies}


def compute_for(
    session: Session,
    indicators: Sequence[Indicator],
    year: int,
    quarters: Sequence[int],
    *,
    verified_only: bool = False,
) -> list[AchievementPublic]:
    """Achievements of `indicators` at each of `quarters` of `year` (indicator-major order)."""
    if not indicators:
        return []
    objectives = by_id(session, Objective, {i.objective_id for i in indicators})
    positions = by_id(session, Position, {o.position_id for o in objectives.values()})
    decrees = by_id(session, Decree, {i.decree_id for i in indicators})
    agencies = by_id(session, Agency, {d.agency_id for d in decrees.values()})
    formulas = {ind.id: _parsed(ind.formula) for ind in indicators}
    codes = {code for checked in formulas.values() if checked for code in checked.variables}
    found = session.exec(
        select(Variable, Unit.code)
        .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
        .where(col(Variable.agency_id).in_(list(agencies)), col(Variable.code).in_(codes))
    ).all()
    variables = [v for v, _ in found]
    unit_codes = {v.owner_unit_id: code for v, code in found}
    by_code = {(v.agency_id, v.code): v for v in variables}
    values: dict[int, dict[int, DataValue]] = defaultdict(dict)
    rows = session.exec(
        select(DataValue).where(
            col(DataValue.variable_id).in_([v.id for v in variables]),
            DataValue.year == year,
            DataValue.quarter <= max(quarters),
        )
    )
    for row in rows:
        values[row.variable_id][row.quarter] = row
    periods = workflow.periods(
        session, {v.owner_unit_id for v in variables}, year, range(1, max(quarters) + 1)
    )
    targets: dict[int, dict[int, Target]] = defaultdict(dict)
    for target in session.exec(
        select(Target).where(
            col(Target.indicator_id).in_([i.id for i in indicators]), Target.year == year
        )
    ):
        targets[target.indicator_id][target.quarter] = target
    scales = rating_scales(session, list(agencies.values()))

    results = []
    for ind in indicators:
        decree = decrees[ind.decree_id]
        agency = agencies[decree.agency_id]
        objective = objectives[ind.objective_id]
        position = positions[objective.position_id]
        checked = formulas[ind.id]
        known = (
            [by_code.get((agency.id or 0, code)) for code in checked.variables] if checked else []
        )
        if checked is None or None in known:
            # One broken definition (a formula that no longer parses, a variable gone) must
            # not fail the pull of every other indicator.
            results += [
                _undefined(ind, position, agency, year, quarter, "invalid_definition")
                for quarter in quarters
            ]
            continue
        used = [v for v in known if v is not None]
        spec = IndicatorSpec(
            formula=checked,
            aggregations={v.code: v.aggregation for v in used},
            lower_is_better=ind.polarity == Polarity.lower_is_better,
        )
        indicator_brief = AchievementIndicator(
            id=ind.id or 0,
            code=ind.code,
            name=ind.name,
            unit_of_measure=ind.unit_of_measure,
            polarity=ind.polarity,
            decimals=ind.decimals,
        )
        position_brief = AchievementPosition(code=position.code, title=position.title)
        ind_targets = targets.get(ind.id or 0, {})
        for quarter in quarters:
            behind = {
                (v.owner_unit_id, q) for v in used for q in quarters_needed(v.aggregation, quarter)
            }
            states = {
                key: periods[key].state if key in periods else PeriodState.open for key in behind
            }
            data = {
                v.code: {
                    q: r.value
                    for q, r in values[v.id or 0].items()
                    if q <= quarter
                    and (
                        not verified_only
                        or states.get((v.owner_unit_id, q)) == PeriodState.verified
                    )
                }
                for v in used
            }
            target_row = ind_targets.get(quarter) or ind_targets.get(0)
            result = compute(
                spec,
                data,
                quarter,
                target_row.value if target_row else None,
                scales[agency.id or 0].bands,
            )
            scale_changed = scales[agency.id or 0].updated_at
            stamps = [ind.updated_at, agency.updated_at, position.updated_at]
            stamps += [v.updated_at for v in used]
            stamps += [t.updated_at for t in ind_targets.values()]
            stamps += [scale_changed] if scale_changed else []
            stamps += [
                r.updated_at for v in used for q, r in values[v.id or 0].items() if q <= quarter
            ]
            stamps += [periods[key].changed_at for key in behind if key in periods]
            unverified = sorted(
                f"{unit_codes[unit]} Q{q} ({state.value})"
                for (unit, q), state in states.items()
                if state != PeriodState.verified
            )
            status, reason, missing = result.status, result.reason, result.missing_variables
            if verified_only and unverified and any(values[v.id or 0] for v in used):
                # Unverified quarters count as missing: name the variables resting on them.
                status, reason = AchievementStatus.partial_data, "not_verified"
                missing = sorted(
                    set(missing)
                    | {
                        v.code
                        for v in used
                        for q in quarters_needed(v.aggregation, quarter)
                        if states[(v.owner_unit_id, q)] != PeriodState.verified
                    }
                )
            state = verification(s.value for s in states.values())
            results.append(
                AchievementPublic(
                    indicator=indicator_brief,
                    position=position_brief,
                    agency=agency.code,
                    year=year,
                    quarter=quarter,
                    values=result.values,
                    quarter_values=result.quarter_values,
                    quarter_realization=result.quarter_realization,
                    realization=result.realization,
                    target=result.target,
                    achievement=result.achievement,
                    rating=Rating(**vars(result.rating)) if result.rating else None,
                    status=status,
                    reason=reason,
                    missing_variables=missing,
                    verified=state == PeriodState.verified,
                    verification=state,
                    unverified=unverified if verified_only else [],
                    updated_at=max(stamps),
                )
            )
    return results


def _parsed(formula: str) -> CheckedFormula | None:
    try:
        return parse(formula)
    except FormulaError:
        return None


def _variables(formula: str) -> tuple[str, ...]:
    checked = _parsed(formula)
    return checked.variables if checked else ()


def _undefined(
    indicator: Indicator, position: Position, agency: Agency, year: int, quarter: int, reason: str
) -> AchievementPublic:
    """The answer for an indicator whose achievement cannot be computed at all."""
    return AchievementPublic(
        indicator=AchievementIndicator.model_validate(indicator, from_attributes=True),
        position=AchievementPosition(code=position.code, title=position.title),
        agency=agency.code,
        year=year,
        quarter=quarter,
        values={},
        quarter_values={},
        quarter_realization=None,
        realization=None,
        target=None,
        achievement=None,
        rating=None,
        status=AchievementStatus.undefined,
        reason=reason,
        missing_variables=[],
        verified=False,
        verification="open",
        updated_at=max(indicator.updated_at, position.updated_at, agency.updated_at),
    )


def _changed_indicator_ids(
    session: Session, filters: AchievementFilters, quarter: int
) -> list[int]:
    """Indicators of the filter whose achievement may have changed after the time: their
    definition, variables, data, targets, agency, rating scale or workflow state changed."""
    since = filters.updated_since
    assert since is not None
    changed_codes: dict[int, set[str]] = defaultdict(set)
    for agency_id, code in session.exec(
        select(Variable.agency_id, Variable.code).where(Variable.updated_at > since)
    ):
        changed_codes[agency_id].add(code)
    for agency_id, code in session.exec(
        select(Variable.agency_id, Variable.code)
        .join(DataValue, DataValue.variable_id == Variable.id)  # type: ignore[arg-type]
        .where(
            DataValue.year == filters.year,
            DataValue.quarter <= quarter,
            DataValue.updated_at > since,
        )
        .distinct()
    ):
        changed_codes[agency_id].add(code)
    for agency_id, code in session.exec(  # a workflow step changes `verification`
        select(Variable.agency_id, Variable.code)
        .join(Period, Period.unit_id == Variable.owner_unit_id)  # type: ignore[arg-type]
        .where(
            Period.year == filters.year,
            Period.quarter <= quarter,
            Period.changed_at > since,
        )
        .distinct()
    ):
        changed_codes[agency_id].add(code)
    changed_targets = set(
        session.exec(
            select(Target.indicator_id).where(
                Target.year == filters.year, Target.updated_at > since
            )
        )
    )
    changed_agencies = _agencies_rated_differently(session, since)
    matching = _base_query(filters).with_only_columns(col(Indicator.id))
    candidates = session.exec(  # type: ignore[call-overload]
        sa_select(  # five columns: more than sqlmodel's typed select() and exec() take
            col(Indicator.id),
            col(Indicator.formula),
            col(Indicator.updated_at),
            col(Position.updated_at),
            col(Decree.agency_id),
        )
        .join(Decree, col(Decree.id) == col(Indicator.decree_id))
        .join(Objective, col(Objective.id) == col(Indicator.objective_id))
        .join(Position, col(Position.id) == col(Objective.position_id))
        .where(col(Indicator.id).in_(matching))
    ).all()
    return [
        ident
        for ident, formula, indicator_changed, position_changed, agency_id in candidates
        if ident is not None
        and (
            max(indicator_changed, position_changed) > since
            or agency_id in changed_agencies
            or ident in changed_targets
            or changed_codes[agency_id].intersection(_variables(formula))
        )
    ]


def _agencies_rated_differently(session: Session, since: dt.datetime) -> set[int]:
    """Agencies changed after `since` (e.g. their scale override), or whose scale did."""
    changed_scales = set(session.exec(select(RatingScale.id).where(RatingScale.updated_at > since)))
    default_changed = bool(
        session.exec(
            select(RatingScale.id).where(
                col(RatingScale.is_default), RatingScale.updated_at > since
            )
        ).first()
    )
    agencies = session.exec(select(Agency.id, Agency.rating_scale_id, Agency.updated_at)).all()
    return {
        ident
        for ident, scale_id, updated_at in agencies
        if ident is not None
        and (updated_at > since or (scale_id in changed_scales if scale_id else default_changed))
    }


def _base_query(filters: AchievementFilters) -> SelectOfScalar[Indicator]:
    return indicator_query(
        agency=filters.agency,
        year=filters.year,
        position=filters.position,
        unit=filters.unit,
        code=filters.indicator,
    )


def list_achievements(
    session: Session, filters: AchievementFilters, quarter: int, page: PageParams
) -> tuple[tuple[list[AchievementPublic], int], Cursor]:
    """One page of achievements at `quarter`, in SK order, and the cursor to resume from
    (taken before anything is read)."""
    resume = changes.current(session)
    query = _base_query(filters)
    if filters.cursor is not None:
        changed = changes.changed_indicators(session, filters.cursor, filters.year)
        query = query.where(col(Indicator.id).in_(changed))
    if filters.updated_since is not None:
        query = query.where(
            col(Indicator.id).in_(_changed_indicator_ids(session, filters, quarter))
        )
    indicators, total = paginate(session, query, page, *INDICATOR_ORDER)
    items = compute_for(
        session, indicators, filters.year, [quarter], verified_only=filters.verified_only
    )
    return (items, total), resume


def up_to_quarter(
    session: Session, filters: AchievementFilters, quarter: int
) -> list[list[AchievementPublic]]:
    """Every indicator of the filters, in SK order, with its achievements at quarters
    1..`quarter` (each year to date, as `GET /achievements` answers them)."""
    indicators = list(session.exec(_base_query(filters).order_by(*INDICATOR_ORDER)))
    quarters = list(range(1, quarter + 1))
    results = compute_for(
        session, indicators, filters.year, quarters, verified_only=filters.verified_only
    )
    return [results[i : i + quarter] for i in range(0, len(results), quarter)]


def indicator_year(
    session: Session, indicator_id: int, year: int, *, verified_only: bool = False
) -> list[AchievementPublic]:
    """The four quarters of one indicator's year."""
    indicator, _agency = indicator_in_year(session, indicator_id, year)
    return compute_for(session, [indicator], year, [1, 2, 3, 4], verified_only=verified_only)
