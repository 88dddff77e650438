"""Capaian out: achievements of many indicators at once, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple, cast

from pydantic_core import to_jsonable_python
from sqlalchemy import Enum as SAEnum
from sqlalchemy import String, bindparam, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.achievement import (
    DEFAULT_BANDS,
    AchievementStatus,
    Aggregation,
    Band,
    IndicatorSpec,
    Polarity,
    compute,
    quarters_needed,
    target_for,
    verification,
)
from app.achievement.rating import sorted_bands
from app.core.db import StoredTime, StoredTimes, utcnow
from app.core.plans import in_order
from app.formula import CheckedFormula, FormulaError, parse
from app.models import (
    Agency,
    DataValue,
    Decree,
    Indicator,
    Objective,
    Period,
    PeriodState,
    Position,
    RatingScale,
    SealedFigure,
    Target,
    Unit,
    Variable,
)
from app.schemas.achievements import (
    AchievementIndicator,
    AchievementPosition,
    AchievementPublic,
    SealCheck,
    SealDriftField,
)
from app.schemas.common import PageParams
from app.schemas.rating_scales import Rating as RatingPublic
from app.services import changes, quality, revisions
from app.services.changes import Cursor
from app.services.common import core_rows, paginate
from app.services.queries import (
    INDICATOR_ORDER,
    indicator_in_year,
    indicator_query,
    indicators_over,
    require_decree,
)


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


def rating_scales(session: Session, scale_ids: Mapping[int, int | None]) -> dict[int, Scale]:
    """Each agency's rating scale (`scale_ids`: agency id -> its own scale, if any): its
    own, else the installation default, else Permendagri 86/2017 as built in."""
    wanted = {ident for ident in scale_ids.values() if ident}
    rows = session.exec(
        select(RatingScale).where(or_(col(RatingScale.is_default), col(RatingScale.id).in_(wanted)))
    ).all()
    scales = {
        r.id: Scale(sorted_bands([Band.from_mapping(b) for b in r.bands]), r.updated_at)
        for r in rows
    }
    default = next((r for r in rows if r.is_default), None)
    fallback = scales[default.id] if default else Scale(DEFAULT_BANDS, None)
    return {agency: scales.get(scale, fallback) for agency, scale in scale_ids.items()}


# An achievement as the API answers it: a JSON-ready mapping with the fields of
# `AchievementPublic`, in its order (pulls of thousands are serialised from these directly;
# callers that want models validate them with `compute_for`).
Row = dict[str, Any]
FIELDS = tuple(AchievementPublic.model_fields)
_RATING_FIELDS = tuple(RatingPublic.model_fields)


def _shaped(row: Row) -> Row:
    """`row` keyed and ordered as `AchievementPublic`: a field the schema gains and the pull
    does not fill fails every pull (KeyError), rather than go missing. (Rows are built in
    order: then this costs one comparison, not a copy.)"""
    return row if tuple(row) == FIELDS else {name: row[name] for name in FIELDS}


def _stored(column: Any) -> Any:
    """A timestamp column read as stored (see `StoredTime`)."""
    return type_coerce(column, StoredTime())


def _shown(column: Any) -> Any:
    """A column as an achievement shows it: an enum read as its plain value (pydantic-core
    writes a str three times faster than an enum member)."""
    column = col(column)
    return type_coerce(column, String()) if isinstance(column.type, SAEnum) else column


# What an achievement shows of its indicator and position: the fields of its nested models,
# read from the columns of the same names, after what the pull needs of the definition.
_INDICATOR = tuple(AchievementIndicator.model_fields)
_POSITION = tuple(AchievementPosition.model_fields)
_DEFINITION_COLUMNS = (
    col(Indicator.formula),
    col(Indicator.decree_id),
    _stored(Indicator.updated_at),
    _stored(Position.updated_at),
    *(_shown(getattr(Indicator, name)) for name in _INDICATOR),
    *(_shown(getattr(Position, name)) for name in _POSITION),
)
_AT_INDICATOR = 4
_AT_POSITION = _AT_INDICATOR + len(_INDICATOR)
# What it needs of its agency, by decree.
_AGENCY_COLUMNS = (
    col(Decree.id),
    _stored(Agency.updated_at),
    col(Agency.id),
    col(Agency.rating_scale_id),
    col(Agency.code),  # `agency`
    col(Agency.data_revision),  # of the agency's data (`app.services.revisions`)
)


class Definition(NamedTuple):
    """What an achievement needs of an indicator, its position and its agency, read as plain
    columns in two queries (no ORM objects: a pull reads thousands). Times are as stored
    (`StoredTime`): an achievement's `updated_at` is the latest of many, converted once."""

    shown: Row  # its indicator, position and agency, as its achievements show them
    id: int
    polarity: Polarity
    formula: str
    stamp: Any  # the latest change of the indicator, its position or its agency
    agency_id: int
    rating_scale_id: int | None
    revision: int  # of the agency's data (`app.services.revisions`)

    @classmethod
    def of(cls, row: Sequence[Any], of_agency: Sequence[Any]) -> Definition:
        """A definition from a row of `_DEFINITION_COLUMNS` and its decree's row of
        `_AGENCY_COLUMNS`."""
        formula, _, *changed = row[:_AT_INDICATOR]
        _, agency_changed, agency_id, rating_scale_id, agency, revision = of_agency
        indicator = dict(zip(_INDICATOR, row[_AT_INDICATOR:_AT_POSITION], strict=True))
        position = dict(zip(_POSITION, row[_AT_POSITION:], strict=True))
        return cls(
            {"indicator": indicator, "position": position, "agency": agency},
            indicator["id"],
            Polarity(indicator["polarity"]),
            formula,
            max(*changed, agency_changed),
            agency_id,
            rating_scale_id,
            revision,
        )

    def head(self, year: int) -> Row:
        """The fields every achievement of the indicator at `year` starts with."""
        return self.shown | {"year": year}


# The statements of a pull, built once (a request only binds their parameters: building
# them again costs more than running them for one indicator). Every list is an expanding
# parameter, so their number does not grow with the number of indicators. Their joins are
# read in the order written, whatever statistics SQLite holds (`in_order`): an indicator's
# agency is read apart, agency first, since statistics of a city of one agency would have
# SQLite scan `agency` and `decree` once per indicator rather than look them up.
_DEFINITIONS = (
    sa_select(*_DEFINITION_COLUMNS)
    .select_from(
        in_order(
            Indicator,
            (Objective, col(Objective.id) == col(Indicator.objective_id)),
            (Position, col(Position.id) == col(Objective.position_id)),
        )
    )
    .where(col(Indicator.id).in_(bindparam("ids", expanding=True)))
)
_AGENCIES = (
    sa_select(*_AGENCY_COLUMNS)
    .select_from(
        in_order(Agency, (Decree, col(Decree.agency_id) == col(Agency.id), "ix_decree_agency_id"))
    )
    .where(col(Decree.id).in_(bindparam("decrees", expanding=True)))
)
_VARIABLES = (
    sa_select(
        col(Variable.id),
        col(Variable.agency_id),
        col(Variable.code),
        col(Variable.aggregation),
        col(Variable.owner_unit_id),
        _stored(Variable.updated_at),
        col(Unit.code),
    )
    .select_from(in_order(Variable, (Unit, col(Unit.id) == col(Variable.owner_unit_id))))
    .where(
        col(Variable.agency_id).in_(bindparam("agencies", expanding=True)),
        col(Variable.code).in_(bindparam("codes", expanding=True)),
    )
)
_VALUES = (
    sa_select(
        col(DataValue.variable_id),
        col(DataValue.quarter),
        col(DataValue.value),
        _stored(DataValue.updated_at),
    )
    .select_from(in_order(Variable, (DataValue, col(DataValue.variable_id) == col(Variable.id))))
    .where(
        col(Variable.agency_id).in_(bindparam("agencies", expanding=True)),
        col(Variable.code).in_(bindparam("codes", expanding=True)),
        col(DataValue.year) == bindparam("year"),
        col(DataValue.quarter) <= bindparam("last"),
    )
)
_PERIODS = sa_select(
    col(Period.unit_id), col(Period.quarter), col(Period.state), _stored(Period.changed_at)
).where(
    col(Period.unit_id).in_(bindparam("units", expanding=True)),
    col(Period.year) == bindparam("year"),
    col(Period.quarter) <= bindparam("last"),
)
_TARGETS = sa_select(
    col(Target.indicator_id), col(Target.quarter), col(Target.value), _stored(Target.updated_at)
).where(
    col(Target.indicator_id).in_(bindparam("ids", expanding=True)),
    col(Target.year) == bindparam("year"),
)


def definitions(session: Session, ids: Sequence[int]) -> list[Definition]:
    """The definitions of these indicators, in the order of `ids`, in two queries."""
    if not ids:
        return []
    rows = core_rows(session, _DEFINITIONS, ids=list(set(ids)))
    if not rows:
        return []
    decrees = {row[1] for row in rows}
    agencies = {row[0]: row for row in core_rows(session, _AGENCIES, decrees=list(decrees))}
    found = {
        definition.id: definition
        for definition in (Definition.of(row, agencies[row[1]]) for row in rows)
    }
    return [found[ident] for ident in ids if ident in found]


class _Variable(NamedTuple):
    """A variable as an achievement uses it."""

    id: int
    code: str
    aggregation: Aggregation
    owner_unit_id: int
    updated_at: Any  # as stored


@dataclass(frozen=True)
class _Facts:
    """What the achievements of some indicators are computed from, read in a fixed number
    of queries. Times are as stored (`StoredTime`)."""

    read_time: Callable[[Any], dt.datetime]  # a stored time as a datetime (memoised)
    variables: dict[tuple[int, str], _Variable]  # by (agency id, code)
    unit_codes: dict[int, str]
    values: dict[int, dict[int, tuple[float, Any]]]  # variable -> quarter -> (value, at)
    periods: dict[tuple[int, int], tuple[PeriodState, Any]]  # (unit, quarter) -> (state, at)
    targets: dict[int, dict[int, tuple[float, Any]]]  # indicator -> quarter (0: annual)
    scales: dict[int, Scale]  # by agency id
    scale_times: dict[int, Any]  # when each agency's scale changed, as stored (None: built in)

    @cached_property
    def units_in_workflow(self) -> set[int]:
        """The units with a quarter that left open at least once."""
        return {unit for unit, _ in self.periods}


def _read_facts(
    session: Session,
    found: Sequence[Definition],
    formulas: Mapping[str, CheckedFormula | None],
    year: int,
    last: int,
) -> _Facts:
    """The variables, values up to quarter `last`, workflow states, targets and rating
    scales behind the definitions, in six queries."""
    agencies = {d.agency_id: d.rating_scale_id for d in found}
    scope = {
        "agencies": list(agencies),
        "codes": sorted({c for checked in formulas.values() if checked for c in checked.variables}),
    }
    variables: dict[tuple[int, str], _Variable] = {}
    unit_codes: dict[int, str] = {}
    for ident, agency_id, code, aggregation, unit_id, updated_at, unit_code in core_rows(
        session, _VARIABLES, **scope
    ):
        variables[(agency_id, code)] = _Variable(ident, code, aggregation, unit_id, updated_at)
        unit_codes[unit_id] = unit_code
    values: dict[int, dict[int, tuple[float, Any]]] = defaultdict(dict)
    for variable_id, quarter, value, updated_at in core_rows(
        session, _VALUES, **scope, year=year, last=last
    ):
        values[variable_id][quarter] = (value, updated_at)
    # The units' quarters that left open at least once (the others are open).
    periods = {
        (unit_id, quarter): (state, changed_at)
        for unit_id, quarter, state, changed_at in core_rows(
            session, _PERIODS, units=list(unit_codes), year=year, last=last
        )
    }
    targets: dict[int, dict[int, tuple[float, Any]]] = defaultdict(dict)
    for indicator_id, quarter, value, updated_at in core_rows(
        session, _TARGETS, ids=[d.id for d in found], year=year
    ):
        targets[indicator_id][quarter] = (value, updated_at)
    times = StoredTimes.of(session.get_bind().dialect)
    scales = rating_scales(session, agencies)
    return _Facts(
        # Many achievements share their latest change (an import's rows share one time).
        lru_cache(maxsize=1024)(times.read),
        variables,
        unit_codes,
        values,
        periods,
        targets,
        scales,
        {
            agency: times.write(scale.updated_at) if scale.updated_at else None
            for agency, scale in scales.items()
        },
    )


def achievement_rows(
    session: Session,
    indicator_ids: Sequence[int],
    year: int,
    quarters: Sequence[int],
    *,
    verified_only: bool = False,
    sealed: bool = True,
) -> list[Row]:
    """Achievements of the indicators at each of `quarters` of `year` (indicator-major
    order). Verified only, a figure sealed at its verification is served as it was sealed
    (`sealed=False` recomputes it, for the drift check); any other is computed from the
    stored definitions, data, targets, scales and workflow states, read in a fixed number
    of queries whatever their number."""
    if not (verified_only and sealed):
        return _computed_rows(
            session, indicator_ids, year, quarters, verified_only, remembered=sealed
        )
    seals = _sealed(session, indicator_ids, year, quarters)
    unsealed = [
        i
        for i in indicator_ids
        if any((i, q) not in seals or "quality" not in seals[(i, q)] for q in quarters)
    ]
    computed = {
        (row["indicator"]["id"], row["quarter"]): row
        for row in _computed_rows(session, unsealed, year, quarters, verified_only=True)
    }
    return [
        row
        for ident in indicator_ids
        for quarter in quarters
        if (row := _served(seals.get((ident, quarter)), computed.get((ident, quarter)))) is not None
    ]


def _served(sealed: Row | None, computed: Row | None) -> Row | None:
    """A figure as served verified only: as sealed, else as computed. A figure sealed before
    achievements carried `quality` takes it from the computation, which reads the same
    findings its seal would have kept: those stored with the verifications."""
    if sealed is None:
        return computed
    return _completed(sealed, computed)


def _completed(sealed: Row, computed: Row | None) -> Row:
    if "quality" not in sealed:
        sealed = sealed | {"quality": (computed or {}).get("quality", quality.NO_FINDINGS)}
    return _shaped(sealed)


def _sealed(
    session: Session, indicator_ids: Sequence[int], year: int, quarters: Sequence[int]
) -> dict[tuple[int, int], Row]:
    """The sealed figures of these indicators at these quarters, in one query."""
    if not indicator_ids:
        return {}
    rows = session.exec(
        select(SealedFigure.indicator_id, SealedFigure.quarter, SealedFigure.figure).where(
            col(SealedFigure.indicator_id).in_(set(indicator_ids)),
            SealedFigure.year == year,
            col(SealedFigure.quarter).in_(set(quarters)),
        )
    )
    # Shaped like a fresh row: a field the schema gained since a figure was sealed fails
    # loudly until a data migration gives the sealed figures their value (but `quality`,
    # which `_served` completes).
    return {
        (ident, quarter): _shaped(dict(figure)) if "quality" in figure else dict(figure)
        for ident, quarter, figure in rows
    }


def _computed_rows(
    session: Session,
    indicator_ids: Sequence[int],
    year: int,
    quarters: Sequence[int],
    verified_only: bool,
    *,
    findings: bool = True,
    remembered: bool = True,
) -> list[Row]:
    """The rows computed from the stored facts; without their data-quality findings
    (`quality` None) when not `findings`, for callers that keep only numbers. An indicator's
    rows computed at the current revision of its agency's data are served as remembered
    (`app.services.revisions`) unless not `remembered` (a seal and its check compute
    afresh). Each row is a copy of its own."""
    # What the session holds is written first: the revision read with the definitions is
    # then that of every fact read after it (the checks' reads flush too).
    session.flush()
    found = definitions(session, indicator_ids)
    if not found:
        return []
    memo = revisions.memo_of(session) if remembered else None
    if memo is None:
        return _rows_of(session, found, year, quarters, verified_only, findings)
    asked = (year, tuple(quarters), verified_only, findings)
    known: dict[int, tuple[Row, ...]] = {}
    for definition in found:
        hit = memo.get(("figures", definition.id, definition.revision, *asked))
        if hit is not None:
            known[definition.id] = hit
    missing = [d for d in found if d.id not in known]
    by_indicator: dict[int, list[Row]] = defaultdict(list)
    computed = (
        _rows_of(session, missing, year, quarters, verified_only, findings) if missing else []
    )
    for row in computed:
        by_indicator[row["indicator"]["id"]].append(row)
    for definition in missing:
        rows = known[definition.id] = tuple(by_indicator[definition.id])
        memo.put(("figures", definition.id, definition.revision, *asked), rows)
    return [dict(row) for definition in found for row in known[definition.id]]


def _rows_of(
    session: Session,
    found: Sequence[Definition],
    year: int,
    quarters: Sequence[int],
    verified_only: bool,
    findings: bool,
) -> list[Row]:
    """The rows of these definitions computed from the stored facts (`_computed_rows`)."""
    if not found:
        return []
    formulas = {d.formula: _parsed(d.formula) for d in found}
    facts = _read_facts(session, found, formulas, year, max(quarters))
    rows: list[Row] = []
    resting: list[tuple[Row, list[tuple[int, int]]]] = []  # a row and the quarters it rests on
    for definition in found:
        checked = formulas[definition.formula]
        known = (
            [facts.variables.get((definition.agency_id, code)) for code in checked.variables]
            if checked
            else []
        )
        if checked is None or None in known:
            # One broken definition (a formula that no longer parses, a variable gone) must
            # not fail the pull of every other indicator.
            changed = facts.read_time(definition.stamp)
            rows += [_undefined(definition, year, quarter, changed) for quarter in quarters]
        else:
            used = [v for v in known if v is not None]
            computed = _indicator_rows(
                definition, checked, used, facts, year, quarters, verified_only
            )
            owners = {v.owner_unit_id for v in used}
            resting += [(row, [(unit, row["quarter"]) for unit in owners]) for row in computed]
            rows += computed
    if not findings:
        return rows
    # The quality of each figure: the findings of the units' quarters it rests on, each
    # quarter's computed once for the whole page.
    seen = quality.seen_findings(
        session, {pair for _, pairs in resting for pair in pairs}, year, verified_only=verified_only
    )
    for row, pairs in resting:
        row["quality"] = quality.figure_quality(row["indicator"]["code"], pairs, seen)
    return rows


_OPEN, _VERIFIED = PeriodState.open, PeriodState.verified


def _indicator_rows(
    definition: Definition,
    checked: CheckedFormula,
    used: Sequence[_Variable],
    facts: _Facts,
    year: int,
    quarters: Sequence[int],
    verified_only: bool,
) -> list[Row]:
    """One indicator's achievements at each of `quarters` (pure: over what was read)."""
    spec = IndicatorSpec(
        formula=checked,
        aggregations={v.code: v.aggregation for v in used},
        polarity=definition.polarity,
    )
    scale = facts.scales[definition.agency_id]
    targets = facts.targets.get(definition.id, {})
    periods = facts.periods
    series = [(v, facts.values.get(v.id, {})) for v in used]
    has_values = any(by_quarter for _, by_quarter in series)
    stamp = max(
        (
            definition.stamp,
            *(v.updated_at for v in used),
            *(at for _, at in targets.values()),
            facts.scale_times[definition.agency_id] or definition.stamp,
        )
    )
    head = definition.head(year)
    rows = []
    # Most units' quarters never left open: then every state behind is open, and none of
    # the workflow's bookkeeping is needed (unless only verified data counts).
    all_open = not verified_only and not any(
        v.owner_unit_id in facts.units_in_workflow for v in used
    )
    for quarter in quarters:
        if all_open:
            behind: set[tuple[int, int]] = set()
            states: dict[tuple[int, int], PeriodState] = {}
        else:
            behind = {
                (v.owner_unit_id, q) for v in used for q in quarters_needed(v.aggregation, quarter)
            }
            states = {key: periods[key][0] if key in periods else _OPEN for key in behind}
        if verified_only:
            data = {
                v.code: {
                    q: value
                    for q, (value, _) in by_quarter.items()
                    if q <= quarter and states.get((v.owner_unit_id, q)) == _VERIFIED
                }
                for v, by_quarter in series
            }
        else:
            data = {
                v.code: {q: value for q, (value, _) in by_quarter.items() if q <= quarter}
                for v, by_quarter in series
            }
        target = target_for(targets, quarter)
        result = compute(spec, data, quarter, target[0] if target else None, scale.bands)
        changed = max(
            (
                stamp,
                *(
                    at
                    for _, by_quarter in series
                    for q, (_, at) in by_quarter.items()
                    if q <= quarter
                ),
                *(periods[key][1] for key in behind if key in periods),
            )
        )
        status, reason, missing = result.status, result.reason, result.missing_variables
        unverified = []
        if verified_only:
            unverified = sorted(
                f"{facts.unit_codes[unit]} Q{q} ({state.value})"
                for (unit, q), state in states.items()
                if state != _VERIFIED
            )
            if unverified and has_values:
                # Unverified quarters count as missing: name the variables resting on them.
                status, reason = AchievementStatus.partial_data, "not_verified"
                missing = sorted(
                    set(missing)
                    | {
                        v.code
                        for v in used
                        for q in quarters_needed(v.aggregation, quarter)
                        if states[(v.owner_unit_id, q)] != _VERIFIED
                    }
                )
        state = verification(s.value for s in states.values())
        rating = result.rating
        rows.append(
            _shaped(
                head
                | {
                    "quarter": quarter,
                    "values": result.values,
                    "quarter_values": result.quarter_values,
                    "quarter_realization": result.quarter_realization,
                    "realization": result.realization,
                    "target": result.target,
                    "achievement": result.achievement,
                    "rating": {name: getattr(rating, name) for name in _RATING_FIELDS}
                    if rating
                    else None,
                    "status": status.value,
                    "reason": reason,
                    "missing_variables": missing,
                    "verified": state == _VERIFIED,
                    "verification": state,
                    "unverified": unverified,
                    "quality": None,  # filled for the whole page (`_computed_rows`)
                    "updated_at": facts.read_time(changed),
                }
            )
        )
    return rows


def compute_for(
    session: Session,
    indicator_ids: Sequence[int],
    year: int,
    quarters: Sequence[int],
    *,
    verified_only: bool = False,
) -> list[AchievementPublic]:
    """`achievement_rows` as models, for the callers that read them field by field."""
    rows = achievement_rows(session, indicator_ids, year, quarters, verified_only=verified_only)
    return [AchievementPublic.model_validate(row) for row in rows]


def _parsed(formula: str) -> CheckedFormula | None:
    try:
        return parse(formula)
    except FormulaError:
        return None


def _variables(formula: str) -> tuple[str, ...]:
    checked = _parsed(formula)
    return checked.variables if checked else ()


def _undefined(definition: Definition, year: int, quarter: int, changed: dt.datetime) -> Row:
    """The answer for an indicator whose achievement cannot be computed at all: its
    definition is broken (a formula that no longer parses, a variable gone)."""
    return _shaped(
        definition.head(year)
        | {
            "quarter": quarter,
            "values": {},
            "quarter_values": {},
            "quarter_realization": None,
            "realization": None,
            "target": None,
            "achievement": None,
            "rating": None,
            "status": AchievementStatus.undefined.value,
            "reason": "invalid_definition",
            "missing_variables": [],
            "verified": False,
            "verification": "open",
            "unverified": [],
            "quality": dict(quality.NO_FINDINGS),
            "updated_at": changed,
        }
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
        .select_from(
            in_order(DataValue, (Variable, col(Variable.id) == col(DataValue.variable_id)))
        )
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
        .select_from(
            in_order(
                Period,
                (
                    Variable,
                    col(Variable.owner_unit_id) == col(Period.unit_id),
                    "ix_variable_owner_unit_id",
                ),
            )
        )
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
        .select_from(
            in_order(
                Decree,
                (Indicator, col(Indicator.decree_id) == col(Decree.id), "ix_indicator_decree_id"),
                (Objective, col(Objective.id) == col(Indicator.objective_id)),
                (Position, col(Position.id) == col(Objective.position_id)),
            )
        )
        .where(col(Decree.year) == filters.year, col(Indicator.id).in_(matching))
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


def _ids_of(query: SelectOfScalar[Indicator]) -> SelectOfScalar[int]:
    """The ids of the indicators `query` selects (still a select of scalars)."""
    return cast(SelectOfScalar[int], query.with_only_columns(col(Indicator.id)))


_REVISIONS = sa_select(col(Agency.id), col(Agency.data_revision)).order_by(col(Agency.id))


def _ordered_ids(session: Session, filters: AchievementFilters) -> Sequence[int]:
    """Every indicator of the filters (their codes; not the cursor's nor the time's), in SK
    order: remembered under the revisions of the agencies it may take indicators from (any
    definition there may enter or leave the filter, or move), so that a pull's pages slice
    one list instead of counting and sorting the whole filter again at each page."""
    query = _ids_of(_base_query(filters)).order_by(*INDICATOR_ORDER)
    memo = revisions.memo_of(session)
    if memo is None:
        return list(session.exec(query))
    session.flush()  # the revisions read below are then those of the rows the query reads
    of_agencies = _REVISIONS
    if filters.agency is not None:
        of_agencies = of_agencies.where(col(Agency.code) == filters.agency)
    state = tuple((ident, revision) for ident, revision in core_rows(session, of_agencies))
    key = (
        "indicators",
        filters.year,
        filters.agency,
        filters.unit,
        filters.position,
        filters.indicator,
        state,
    )
    ordered: tuple[int, ...] | None = memo.get(key)
    if ordered is None:
        ordered = tuple(session.exec(query))
        memo.put(key, ordered)
    return ordered


def list_achievements(
    session: Session, filters: AchievementFilters, quarter: int, page: PageParams
) -> tuple[tuple[list[Row], int], Cursor]:
    """One page of achievements at `quarter`, in SK order, and the cursor to resume from
    (taken before anything is read)."""
    require_decree(session, filters.year)
    resume = changes.current(session)
    query = _base_query(filters)
    if filters.cursor is not None:
        changed = changes.changed_indicators(session, filters.cursor, filters.year)
        query = query.where(col(Indicator.id).in_(changed))
    if filters.updated_since is not None:
        query = query.where(
            col(Indicator.id).in_(_changed_indicator_ids(session, filters, quarter))
        )
    if filters.cursor is None and filters.updated_since is None:
        ordered = _ordered_ids(session, filters)
        ids, total = list(ordered[page.offset : page.offset + page.limit]), len(ordered)
    else:
        ids, total = paginate(session, _ids_of(query), page, *INDICATOR_ORDER)
    items = achievement_rows(
        session, ids, filters.year, [quarter], verified_only=filters.verified_only
    )
    return (items, total), resume


def up_to_quarter(
    session: Session, filters: AchievementFilters, quarter: int
) -> list[list[AchievementPublic]]:
    """Every indicator of the filters, in SK order, with its achievements at quarters
    1..`quarter` (each year to date, as `GET /achievements` answers them)."""
    ids = list(_ordered_ids(session, filters))
    quarters = list(range(1, quarter + 1))
    results = compute_for(session, ids, filters.year, quarters, verified_only=filters.verified_only)
    return [results[i : i + quarter] for i in range(0, len(results), quarter)]


def at_quarter(
    session: Session, filters: AchievementFilters, quarter: int
) -> list[AchievementPublic]:
    """Every indicator of the filters, in SK order, with its achievement at `quarter` (year
    to date), as `GET /achievements?quarter=` answers it."""
    ids = list(_ordered_ids(session, filters))
    return compute_for(session, ids, filters.year, [quarter], verified_only=filters.verified_only)


def capaian_by_quarter(
    session: Session, indicator_ids: Sequence[int], year: int, quarters: Sequence[int]
) -> dict[int, list[float | None]]:
    """Each indicator's capaian at each of `quarters` (each year to date), computed as
    `achievement_rows` computes them, in one batch, without the data-quality findings that
    the whole figures carry: the numbers of a trend."""
    found: dict[int, list[float | None]] = defaultdict(list)
    for row in _computed_rows(session, indicator_ids, year, quarters, False, findings=False):
        found[row["indicator"]["id"]].append(row["achievement"])
    return dict(found)


def indicator_year(
    session: Session, indicator_id: int, year: int, *, verified_only: bool = False
) -> list[AchievementPublic]:
    """The four quarters of one indicator's year."""
    indicator_in_year(session, indicator_id, year)  # 404 or 422 before computing
    return compute_for(session, [indicator_id], year, [1, 2, 3, 4], verified_only=verified_only)


# Seals --------------------------------------------------------------------------------------


DRIFT_IGNORED = frozenset({"updated_at"})
"""What may differ between a sealed figure and its recomputation without being drift."""


def _resting_on(session: Session, unit_id: int, year: int) -> dict[int, set[int]]:
    """The indicators of the year whose formulas use a variable the unit owns, each with
    the units owning its variables."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        return {}
    owners = dict(
        session.exec(
            select(Variable.code, Variable.owner_unit_id).where(
                Variable.agency_id == unit.agency_id
            )
        ).all()
    )
    own = {code for code, owner in owners.items() if owner == unit_id}
    return {
        ident: {owners[code] for code in used if code in owners}
        for ident, _, used in indicators_over(session, unit.agency_id, own, year)
    }


def seal(session: Session, unit_id: int, year: int, quarter: int) -> int:
    """Seal the figures resting on a unit's quarter, just verified or reopened: each
    indicator over the unit's variables, at this quarter and at the later ones (their year
    to date includes it), as `verified_only` computes it now. A figure up to a quarter is
    official once a unit it rests on has verified that quarter: it is sealed then, and
    unsealed when no such unit is left. Returns how many figures were sealed."""
    resting = _resting_on(session, unit_id, year)
    ids = list(resting)
    quarters = list(range(quarter, 5))
    rows = _computed_rows(session, ids, year, quarters, verified_only=True, remembered=False)
    verified = set(
        session.exec(
            select(Period.unit_id, Period.quarter).where(
                col(Period.unit_id).in_(set().union(*resting.values())),
                Period.year == year,
                Period.state == PeriodState.verified,
            )
        ).all()
    )
    stored = {
        (row.indicator_id, row.quarter): row
        for row in session.exec(
            select(SealedFigure).where(
                col(SealedFigure.indicator_id).in_(ids),
                SealedFigure.year == year,
                col(SealedFigure.quarter).in_(quarters),
            )
        )
    }
    now = utcnow()
    sealed = 0
    for row in rows:
        key = (row["indicator"]["id"], row["quarter"])
        current = stored.get(key)
        if not any((unit, key[1]) in verified for unit in resting[key[0]]):
            if current is not None:
                session.delete(current)
            continue
        if current is None:
            current = SealedFigure(indicator_id=key[0], year=year, quarter=key[1], figure=row)
        current.figure, current.sealed_at = row, now
        session.add(current)
        sealed += 1
    session.flush()
    return sealed


def check_seals(
    session: Session, page: PageParams, *, year: int | None = None, agency: str | None = None
) -> tuple[list[SealCheck], int]:
    """One page of the sealed figures (by year, indicator and quarter), each recomputed from
    the current data and definitions, with the fields that differ (a change under a seal
    that nothing refused); and how many sealed figures there are. The work is bounded by the
    page: its figures are recomputed per year, in a fixed number of queries."""
    query = select(SealedFigure)
    if year is not None:
        query = query.where(SealedFigure.year == year)
    if agency is not None:
        query = (
            query.join(Indicator, col(Indicator.id) == col(SealedFigure.indicator_id))
            .join(Decree, col(Decree.id) == col(Indicator.decree_id))
            .join(Agency, col(Agency.id) == col(Decree.agency_id))
            .where(Agency.code == agency)
        )
    order = (col(SealedFigure.year), col(SealedFigure.indicator_id), col(SealedFigure.quarter))
    figures, total = paginate(session, query, page, *order)
    by_year: dict[int, list[SealedFigure]] = {}
    for figure in figures:
        by_year.setdefault(figure.year, []).append(figure)
    now: dict[tuple[int, int, int], Row] = {}
    for in_year, sealed in by_year.items():
        ids = sorted({f.indicator_id for f in sealed})
        quarters = sorted({f.quarter for f in sealed})
        for row in _computed_rows(
            session, ids, in_year, quarters, verified_only=True, remembered=False
        ):
            now[(in_year, row["indicator"]["id"], row["quarter"])] = row
    checks = []
    for figure in figures:
        # Shaped like a fresh row (see `_sealed`).
        after = now.get((figure.year, figure.indicator_id, figure.quarter), {})
        before = _completed(dict(figure.figure), after)
        fields = {
            name: SealDriftField(sealed=before.get(name), current=after.get(name))
            for name in sorted(set(before) | set(after))
            if name not in DRIFT_IGNORED and before.get(name) != _jsonable(after.get(name))
        }
        checks.append(
            SealCheck(
                indicator=before.get("indicator", {}).get("code", str(figure.indicator_id)),
                indicator_id=figure.indicator_id,
                year=figure.year,
                quarter=figure.quarter,
                drifted=bool(fields),
                fields=fields,
            )
        )
    return checks, total


SEAL_CHECK_PAGE = 500
"""Sealed figures recomputed at once by `drift`."""


def drift(
    session: Session, *, year: int | None = None, agency: str | None = None
) -> tuple[int, list[SealCheck]]:
    """Every sealed figure checked, page after page (`check_seals`): how many were checked,
    and those that drifted. For the command line, which may take its time."""
    checked, drifted, offset = 0, [], 0
    while True:
        checks, total = check_seals(
            session, PageParams(SEAL_CHECK_PAGE, offset), year=year, agency=agency
        )
        checked += len(checks)
        drifted += [check for check in checks if check.drifted]
        offset += len(checks)
        if not checks or offset >= total:
            return checked, drifted


def _jsonable(value: Any) -> Any:
    # A sealed figure is stored as JSON; a fresh one may hold tuples or datetimes.
    return to_jsonable_python(value)
