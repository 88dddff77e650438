"""The data-quality checks of a unit's quarter: its facts read in a fixed number of queries,
checked by the pure rules of `app.quality`. Nothing is cached: every answer is computed
from what is stored, so no write can leave it stale.

The findings a step kept (`Period.findings`, at submit and verify) are a copy, made when the
step was taken: a later change of data, rules or bands leaves them as the verifier saw them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import Forbidden
from app.core.security import Principal
from app.formula import CheckedFormula, FormulaError, parse
from app.models import (
    Agency,
    DataValue,
    Decree,
    Indicator,
    Objective,
    PeriodState,
    QualityRule,
    Target,
    Unit,
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
from app.services.common import resolve_agency, unit_of_path
from app.services.queries import load_agency_variables, periods, require_decree


def _parsed(expression: str) -> CheckedFormula | None:
    try:
        return parse(expression)
    except FormulaError:  # a stored definition that no longer parses is checked by no rule
        return None


def unit_quarter(
    session: Session, agency: Agency, unit: Unit, year: int, quarter: int
) -> UnitQuarter:
    """A unit's quarter as the checks read it, in five queries: the agency's variables, the
    year's indicators, the agency's rules, the values of this year and last, the targets."""
    scope = load_agency_variables(session, agency)
    own = {code for code, v in scope.variables.items() if v.owner_unit_id == unit.id}
    indicators = []
    for ident, code, name, formula, measure, polarity in session.execute(
        sa_select(  # six columns: more than sqlmodel's typed select() takes
            col(Indicator.id),
            col(Indicator.code),
            col(Indicator.name),
            col(Indicator.formula),
            col(Indicator.unit_of_measure),
            col(Indicator.polarity),
        )
        .join(Decree, col(Decree.id) == col(Indicator.decree_id))
        .join(Objective, col(Objective.id) == col(Indicator.objective_id))
        .where(col(Decree.agency_id) == agency.id, col(Decree.year) == year)
        .order_by(
            col(Objective.position_id),
            col(Objective.number),
            col(Indicator.number),
            col(Indicator.id),
        )
    ):
        checked = _parsed(formula)
        if checked is not None and own.intersection(checked.variables):
            indicators.append((ident, code, name, checked, measure, polarity))
    rules = []
    for rule in session.exec(
        select(QualityRule)
        .where(QualityRule.agency_id == agency.id)
        .order_by(col(QualityRule.code))
    ):
        left, right = _parsed(rule.left), _parsed(rule.right)
        if left is None or right is None:
            continue
        facts = RuleFacts(
            rule.code,
            rule.name,
            left,
            rule.operator,
            right,
            rule.period,
            rule.severity,
            rule.description,
        )
        if own.intersection(facts.variables) and all(c in scope.variables for c in facts.variables):
            rules.append(facts)
    needed = own.union(
        *(checked.variables for _, _, _, checked, _, _ in indicators),
        *(rule.variables for rule in rules),
    ).intersection(scope.variables)
    variables = {
        code: VariableFacts(
            code,
            v.label,
            v.aggregation,
            scope.units[v.owner_unit_id].code,
            v.unit_of_measure,
            v.needs_evidence,
        )
        for code, v in scope.variables.items()
        if code in needed
    }
    codes = {scope.variables[code].id: code for code in needed}
    values: dict[int, dict[str, dict[int, Observation]]] = {year: {}, year - 1: {}}
    for variable_id, in_year, in_quarter, value, evidence in session.execute(
        sa_select(
            col(DataValue.variable_id),
            col(DataValue.year),
            col(DataValue.quarter),
            col(DataValue.value),
            col(DataValue.evidence),
        ).where(
            col(DataValue.variable_id).in_(list(codes)),
            col(DataValue.year).in_([year - 1, year]),
        )
    ):
        if in_year == year and in_quarter > quarter:
            continue  # later quarters say nothing of this one
        by_code = values[in_year].setdefault(codes[variable_id], {})
        by_code[in_quarter] = Observation(value, evidence)
    targets: dict[int, dict[int, float]] = {}
    for indicator_id, in_quarter, value in session.exec(
        select(Target.indicator_id, Target.quarter, Target.value).where(
            col(Target.indicator_id).in_([i[0] for i in indicators]), Target.year == year
        )
    ):
        targets.setdefault(indicator_id, {})[in_quarter] = value
    return UnitQuarter(
        unit=unit.code,
        year=year,
        quarter=quarter,
        variables=variables,
        values=values[year],
        previous_year=values[year - 1],
        indicators=[
            IndicatorFacts(code, name, checked, measure, polarity, targets.get(ident or 0, {}))
            for ident, code, name, checked, measure, polarity in indicators
        ],
        rules=rules,
        thresholds=Thresholds(
            agency.quality_capaian_above,
            agency.quality_capaian_below,
            agency.quality_stock_change,
        ),
    )


def findings_of(
    session: Session, agency: Agency, unit: Unit, year: int, quarter: int
) -> list[Finding]:
    """The findings of a unit's quarter, from the current data and definitions."""
    return check(unit_quarter(session, agency, unit, year, quarter))


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


def refuse_foreign_unit(principal: Principal, unit: Unit) -> None:
    """An operator (whose role works only for its units) reads only its units' checks."""
    if principal.role.needs_units and (unit.id or 0) not in principal.unit_ids:
        raise Forbidden(f"A '{principal.role}' key reads the checks of its own units only")


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
