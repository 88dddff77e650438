"""The data-quality checks of a unit's quarter: its facts read in a fixed number of queries,
checked by the pure rules of `app.quality`. Every answer is computed from what is stored, or
remembered under the revision of the agency's data it was computed at
(`app.services.revisions`), which every write of those data changes: no write can leave it
stale.

The findings a step kept (`Period.findings`, at submit and verify) are a copy, made when the
step was taken: a later change of data, rules or bands leaves them as the verifier saw them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.core.errors import Forbidden
from app.core.plans import in_order
from app.core.security import Principal
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
    QualityRule,
    Target,
    Unit,
    Variable,
)
from app.quality import (
    Finding,
    IndicatorFacts,
    Observation,
    RuleFacts,
    Severity,
    Thresholds,
    UnitQuarter,
    VariableFacts,
    check,
)
from app.schemas.quality import QualityFinding, QualityReport, QualitySummary
from app.services import revisions
from app.services.common import core_rows, resolve_agency, unit_of_path
from app.services.queries import periods, require_decree


def _parsed(expression: str) -> CheckedFormula | None:
    try:
        return parse(expression)
    except FormulaError:  # a stored definition that no longer parses is checked by no rule
        return None


@dataclass(frozen=True)
class _AgencyFacts:
    """What the checks of an agency's units read, shared by all of them."""

    thresholds: Thresholds
    variables: dict[str, VariableFacts]  # by code
    owners: dict[str, int]  # variable code -> its owner unit's id
    indicators: list[tuple[int, str, str, CheckedFormula, str, Polarity]]  # in SK order
    rules: list[RuleFacts]
    values: dict[int, dict[str, dict[int, Observation]]]  # year -> code -> quarter
    targets: dict[int, dict[int, float]]  # indicator id -> quarter (0: annual)


_DECREE_INDICATORS = (
    Indicator,
    col(Indicator.decree_id) == col(Decree.id),
    "ix_indicator_decree_id",
)
"""A decree's indicators, as `in_order` joins them (through the index by decree)."""
_OF_AGENCIES = col(Decree.agency_id).in_(bindparam("agencies", expanding=True))

# The statements of `unit_quarters`, built once (a request binds their parameters: building
# them again cost more than running them for one unit), run by the Core (plain rows, no ORM
# loading). Every list is an expanding parameter.
_UNITS = (
    sa_select(
        col(Unit.id),
        col(Unit.code),
        col(Unit.agency_id),
        col(Agency.quality_capaian_above),
        col(Agency.quality_capaian_below),
        col(Agency.quality_stock_change),
        col(Agency.data_revision),
    )
    .select_from(
        in_order(Agency, (Unit, col(Unit.agency_id) == col(Agency.id), "ix_unit_agency_id"))
    )
    .where(col(Unit.id).in_(bindparam("units", expanding=True)))
)
_VARIABLES = (
    sa_select(
        col(Variable.id),
        col(Variable.agency_id),
        col(Variable.code),
        col(Variable.label),
        col(Variable.aggregation),
        col(Variable.owner_unit_id),
        col(Unit.code),
        col(Variable.unit_of_measure),
        col(Variable.needs_evidence),
    )
    .select_from(in_order(Variable, (Unit, col(Unit.id) == col(Variable.owner_unit_id))))
    .where(col(Variable.agency_id).in_(bindparam("agencies", expanding=True)))
)
_INDICATORS = (
    sa_select(
        col(Decree.agency_id),
        col(Indicator.id),
        col(Indicator.code),
        col(Indicator.name),
        col(Indicator.formula),
        col(Indicator.unit_of_measure),
        col(Indicator.polarity),
    )
    .select_from(
        in_order(
            Decree,
            _DECREE_INDICATORS,
            (Objective, col(Objective.id) == col(Indicator.objective_id)),
        )
    )
    .where(
        _OF_AGENCIES,
        col(Decree.year) == bindparam("year"),
    )
    .order_by(
        col(Objective.position_id),
        col(Objective.number),
        col(Indicator.number),
        col(Indicator.id),
    )
)
_RULES = (
    sa_select(
        col(QualityRule.agency_id),
        col(QualityRule.code),
        col(QualityRule.name),
        col(QualityRule.left),
        col(QualityRule.operator),
        col(QualityRule.right),
        col(QualityRule.period),
        col(QualityRule.severity),
        col(QualityRule.description),
    )
    .where(col(QualityRule.agency_id).in_(bindparam("agencies", expanding=True)))
    .order_by(col(QualityRule.code))
)
_VALUES = (
    sa_select(
        col(DataValue.variable_id),
        col(DataValue.year),
        col(DataValue.quarter),
        col(DataValue.value),
        col(DataValue.evidence),
    )
    .select_from(in_order(Variable, (DataValue, col(DataValue.variable_id) == col(Variable.id))))
    .where(
        col(Variable.agency_id).in_(bindparam("agencies", expanding=True)),
        or_(
            col(DataValue.year) == bindparam("year") - 1,
            and_(
                col(DataValue.year) == bindparam("year"),
                col(DataValue.quarter) <= bindparam("last"),
            ),
        ),
    )
)
_TARGETS = (
    sa_select(
        col(Decree.agency_id), col(Target.indicator_id), col(Target.quarter), col(Target.value)
    )
    .select_from(
        in_order(
            Decree,
            _DECREE_INDICATORS,
            (Target, col(Target.indicator_id) == col(Indicator.id)),
        )
    )
    .where(
        _OF_AGENCIES,
        col(Target.year) == bindparam("year"),
    )
)


def unit_quarters(
    session: Session, unit_ids: Iterable[int], year: int, quarters: Iterable[int]
) -> dict[tuple[int, int], UnitQuarter]:
    """The quarters of these units as the checks read them, by (unit id, quarter), in six
    queries whatever their number: the units and their agencies' bands, the agencies'
    variables, the year's indicators, the agencies' rules, the values of this year and last,
    and the targets."""
    unit_ids, quarters = sorted(set(unit_ids)), sorted(set(quarters))
    if not unit_ids or not quarters:
        return {}
    session.flush()  # the Core reads what is stored: what the session holds first
    return _quarters_of(session, core_rows(session, _UNITS, units=unit_ids), year, quarters)


def _quarters_of(
    session: Session, units: Sequence[Any], year: int, quarters: Sequence[int]
) -> dict[tuple[int, int], UnitQuarter]:
    """`unit_quarters`, for these rows of `_UNITS`: the five other queries."""
    if not units or not quarters:
        return {}
    facts: dict[int, _AgencyFacts] = {
        agency_id: _AgencyFacts(Thresholds(above, below, stock), {}, {}, [], [], {}, {})
        for _, _, agency_id, above, below, stock, _ in units
    }
    agencies = {"agencies": list(facts)}
    ids: dict[int, tuple[int, str]] = {}  # variable id -> (agency id, code)
    for (
        ident,
        agency_id,
        code,
        label,
        aggregation,
        owner,
        owner_code,
        measure,
        evidence,
    ) in core_rows(session, _VARIABLES, **agencies):
        agency = facts[agency_id]
        agency.variables[code] = VariableFacts(
            code, label, aggregation, owner_code, measure, evidence
        )
        agency.owners[code] = owner
        ids[ident] = (agency_id, code)
    parsed: dict[str, CheckedFormula | None] = {}  # a city's agencies share their formulas
    for agency_id, ident, code, name, formula, measure, polarity in core_rows(
        session, _INDICATORS, **agencies, year=year
    ):
        if formula not in parsed:
            parsed[formula] = _parsed(formula)
        checked = parsed[formula]
        if checked is not None:
            facts[agency_id].indicators.append((ident, code, name, checked, measure, polarity))
    for (
        agency_id,
        code,
        name,
        left,
        operator,
        right,
        period,
        severity,
        description,
    ) in core_rows(session, _RULES, **agencies):
        left_side, right_side = _parsed(left), _parsed(right)
        if left_side is not None and right_side is not None:
            facts[agency_id].rules.append(
                RuleFacts(
                    code, name, left_side, operator, right_side, period, severity, description
                )
            )
    last = max(quarters)
    for variable_id, in_year, in_quarter, value, evidence in core_rows(
        session, _VALUES, **agencies, year=year, last=last
    ):
        agency_id, code = ids[variable_id]
        by_code = facts[agency_id].values.setdefault(in_year, {}).setdefault(code, {})
        by_code[in_quarter] = Observation(value, evidence)
    for agency_id, indicator_id, in_quarter, value in core_rows(
        session, _TARGETS, **agencies, year=year
    ):
        facts[agency_id].targets.setdefault(indicator_id, {})[in_quarter] = value
    return {
        (ident, quarter): _unit_quarter(facts[agency_id], ident, code, year, quarter)
        for ident, code, agency_id, *_ in units
        for quarter in sorted(set(quarters))
    }


def _unit_quarter(
    agency: _AgencyFacts, unit_id: int, unit: str, year: int, quarter: int
) -> UnitQuarter:
    """One unit's quarter out of what its agency's checks read (pure)."""
    scope = agency.variables
    own = {code for code, owner in agency.owners.items() if owner == unit_id}
    indicators = [i for i in agency.indicators if own.intersection(i[3].variables)]
    rules = [
        rule
        for rule in agency.rules
        if own.intersection(rule.variables) and all(c in scope for c in rule.variables)
    ]
    needed = own.union(
        *(checked.variables for _, _, _, checked, _, _ in indicators),
        *(rule.variables for rule in rules),
    ).intersection(scope)
    this_year = agency.values.get(year, {})
    last_year = agency.values.get(year - 1, {})
    return UnitQuarter(
        unit=unit,
        year=year,
        quarter=quarter,
        variables={code: scope[code] for code in sorted(needed)},
        values={
            code: {q: o for q, o in this_year[code].items() if q <= quarter}
            for code in needed
            if code in this_year
        },
        previous_year={code: last_year[code] for code in needed if code in last_year},
        indicators=[
            IndicatorFacts(code, name, checked, measure, polarity, agency.targets.get(ident, {}))
            for ident, code, name, checked, measure, polarity in indicators
        ],
        rules=rules,
        thresholds=agency.thresholds,
    )


def current_findings(
    session: Session, pairs: Iterable[tuple[int, int]], year: int
) -> dict[tuple[int, int], list[Finding]]:
    """The findings of these units' quarters (unit id, quarter) from the current data and
    definitions: as remembered under the revision of their agency's data, else checked over
    `unit_quarters` (and remembered). The revision is read before the facts."""
    pairs = set(pairs)
    if not pairs:
        return {}
    session.flush()  # the Core reads what is stored: what the session holds first
    units = core_rows(session, _UNITS, units=sorted({u for u, _ in pairs}))
    revision: dict[int, int] = {row[0]: row[-1] for row in units}
    memo = revisions.memo_of(session)
    found: dict[tuple[int, int], list[Finding]] = {}
    if memo is not None:
        for unit, quarter in pairs:
            if unit in revision:
                hit = memo.get(("findings", unit, revision[unit], year, quarter))
                if hit is not None:
                    found[(unit, quarter)] = list(hit)
    rest = pairs - set(found)
    if rest:
        wanted = {u for u, _ in rest}
        rows = [row for row in units if row[0] in wanted]
        quarters = _quarters_of(session, rows, year, sorted({q for _, q in rest}))
        for unit, quarter in rest:
            checked = check(quarters[(unit, quarter)]) if (unit, quarter) in quarters else []
            found[(unit, quarter)] = checked
            if memo is not None and unit in revision:
                memo.put(("findings", unit, revision[unit], year, quarter), tuple(checked))
    return found


def findings_of(
    session: Session, agency: Agency, unit: Unit, year: int, quarter: int
) -> list[Finding]:
    """The findings of a unit's quarter, from the current data and definitions."""
    del agency  # the unit's own
    pair = (unit.id or 0, quarter)
    return current_findings(session, [pair], year)[pair]


def finding_view(finding: Finding, explanation: str | None = None) -> dict[str, Any]:
    """A finding as answered and as stored with a step: JSON-ready, with its explanation."""
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "key": finding.key,
        "indicator": finding.indicator,
        "variable": finding.variable,
        "rule": finding.rule,
        "values": dict(finding.values),
        "figures": dict(finding.figures),
        "indicators": list(finding.indicators),
        "message": finding.message,
        "explanation": explanation,
    }


def stored_findings(
    findings: Iterable[Finding], explanations: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The findings to keep with a step, each with its explanation."""
    return [finding_view(f, explanations.get(f.key)) for f in findings]


def unexplained_errors(
    findings: Iterable[Finding], explanations: Mapping[str, str]
) -> list[Finding]:
    """The errors that no explanation names."""
    return [f for f in findings if f.severity == Severity.error and f.key not in explanations]


def units_read_by(principal: Principal) -> frozenset[int] | None:
    """The units whose checks the principal reads: an operator (whose role works only for
    its units) its own; anyone else every unit (None)."""
    return principal.unit_ids if principal.role.needs_units else None


def refuse_foreign_unit(principal: Principal, unit: Unit) -> None:
    """An operator (whose role works only for its units) reads only its units' checks."""
    own = units_read_by(principal)
    if own is not None and (unit.id or 0) not in own:
        raise Forbidden(f"The role '{principal.role}' reads the checks of its own units only")


def unit_checks(
    session: Session,
    principal: Principal,
    *,
    agency_code: str | None,
    unit_code: str,
    year: int,
    quarter: int,
) -> QualityReport:
    """The findings of a unit's quarter computed from the current data, each with the
    explanation stored at the quarter's last submit (or verify), if any."""
    agency = resolve_agency(session, agency_code)
    unit = unit_of_path(session, agency, unit_code)
    refuse_foreign_unit(principal, unit)
    require_decree(session, year, agency)
    row = periods(session, [unit.id or 0], year, [quarter]).get((unit.id or 0, quarter))
    explanations = (row.explanations if row else None) or {}
    findings = findings_of(session, agency, unit, year, quarter)
    counts = Counter(f.severity for f in findings)
    return QualityReport(
        agency=agency.code,
        unit=unit.code,
        unit_name=unit.name,
        year=year,
        quarter=quarter,
        state=row.state if row else PeriodState.open,
        summary=QualitySummary(
            error=counts[Severity.error],
            warning=counts[Severity.warning],
            info=counts[Severity.info],
            total=len(findings),
            unexplained_errors=len(unexplained_errors(findings, explanations)),
        ),
        findings=[
            QualityFinding.model_validate(finding_view(f, explanations.get(f.key)))
            for f in findings
        ],
    )


def kept_or_current(
    session: Session, unit_id: int, year: int, quarter: int
) -> tuple[list[dict[str, Any]], bool]:
    """The findings of a unit's quarter as a later reader should see them (`finding_view`
    each): as kept with its verification if it is verified, else computed from the current
    data with the explanations of its last submit; and whether they are the verified ones."""
    row = periods(session, [unit_id], year, [quarter]).get((unit_id, quarter))
    if row is not None and row.state == PeriodState.verified:
        return list(row.findings or []), True
    explanations = (row.explanations if row else None) or {}
    found = current_findings(session, [(unit_id, quarter)], year)[(unit_id, quarter)]
    return [finding_view(f, explanations.get(f.key)) for f in found], False


# The quality of a figure ------------------------------------------------------------------------


class Seen(NamedTuple):
    """A finding as the quality of a figure counts it."""

    key: str
    severity: str
    indicators: tuple[str, ...]
    explained: bool


NO_FINDINGS: dict[str, Any] = {"error": 0, "warning": 0, "info": 0, "errors_explained": True}
"""The quality of a figure that no finding touches (`AchievementQuality`)."""


def seen_findings(
    session: Session,
    pairs: Iterable[tuple[int, int]],
    year: int,
    *,
    verified_only: bool = False,
) -> dict[tuple[int, int], list[Seen]]:
    """The findings of these units' quarters (unit id, quarter) as the figures resting on
    them count them: a verified quarter's as stored with its verification (what its verifier
    signed: a rule added later moves nothing); any other's computed from the current data,
    with the explanations stored at its last submit, unless only verified data counts (then
    it has none). In at most seven queries, whatever the number of quarters."""
    pairs = set(pairs)
    if not pairs:
        return {}
    rows = session.execute(
        sa_select(
            col(Period.unit_id),
            col(Period.quarter),
            col(Period.state),
            col(Period.explanations),
            col(Period.findings),
        ).where(
            col(Period.unit_id).in_({unit for unit, _ in pairs}),
            col(Period.year) == year,
            col(Period.quarter).in_({quarter for _, quarter in pairs}),
        )
    ).all()
    seen: dict[tuple[int, int], list[Seen]] = {}
    explanations: dict[tuple[int, int], Mapping[str, str]] = {}
    for unit, quarter, state, explained, stored in rows:
        if (unit, quarter) not in pairs:
            continue
        if PeriodState(state) == PeriodState.verified:
            seen[(unit, quarter)] = [
                Seen(
                    f["key"],
                    f["severity"],
                    tuple(f.get("indicators") or ()),
                    bool(f.get("explanation")),
                )
                for f in stored or ()
            ]
        else:
            explanations[(unit, quarter)] = explained or {}
    if verified_only:
        return seen
    for pair, found in current_findings(session, pairs - set(seen), year).items():
        given = explanations.get(pair, {})
        seen[pair] = [Seen(f.key, f.severity.value, f.indicators, f.key in given) for f in found]
    return seen


def figure_quality(
    indicator: str, pairs: Iterable[tuple[int, int]], seen: Mapping[tuple[int, int], list[Seen]]
) -> dict[str, Any]:
    """The quality of an indicator's figure resting on these units' quarters: how many of
    their findings of each severity touch it (a finding found in two units' quarters, such as
    a rule over both, counts once), and whether each error was explained."""
    touching: dict[str, Seen] = {}
    for pair in pairs:
        for finding in seen.get(pair, ()):
            if indicator in finding.indicators:
                touching.setdefault(finding.key, finding)
    if not touching:
        return dict(NO_FINDINGS)
    counts = Counter(f.severity for f in touching.values())
    return {
        "error": counts["error"],
        "warning": counts["warning"],
        "info": counts["info"],
        "errors_explained": all(f.explained for f in touching.values() if f.severity == "error"),
    }
