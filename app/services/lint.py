"""The lint of a decree: load its definitions in a fixed number of queries, run `app.lint`."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session, col, select

from app.formula import FormulaError, parse
from app.lint import IndicatorFacts, QualityRuleFacts, Severity, VariableFacts, lint
from app.models import Decree, Indicator, Objective, QualityRule, Target, Unit, Variable
from app.schemas.decrees import DecreeRef
from app.schemas.lint import LintFinding, LintReport, LintSummary
from app.services.common import get_or_404


def lint_decree(session: Session, decree_id: int) -> LintReport:
    """What is wrong (or worth knowing) in a decree's indicators and its agency's variables."""
    decree = get_or_404(session, Decree, decree_id, "Decree")
    indicators = list(
        session.exec(
            select(Indicator)
            .join(Objective, Objective.id == Indicator.objective_id)  # type: ignore[arg-type]
            .where(Indicator.decree_id == decree_id)
            .order_by(
                col(Objective.position_id),
                col(Objective.number),
                col(Indicator.number),
                col(Indicator.id),
            )
        )
    )
    agency = {
        variable.code: VariableFacts(
            code=variable.code,
            label=variable.label,
            unit_of_measure=variable.unit_of_measure,
            aggregation=str(variable.aggregation),
            description=variable.description,
            owner_unit=unit.code,
            min_value=variable.min_value,
            max_value=variable.max_value,
        )
        for variable, unit in session.exec(
            select(Variable, Unit)
            .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
            .where(Variable.agency_id == decree.agency_id)
        )
    }
    with_targets = set(
        session.exec(
            select(Target.indicator_id)
            .where(col(Target.indicator_id).in_([i.id for i in indicators]))
            .where(Target.year == decree.year)
            .distinct()
        )
    )
    codes = {i.id: i.code for i in indicators}  # a parent is in the same decree
    facts = []
    for indicator in indicators:
        checked = parse(indicator.formula)
        facts.append(
            IndicatorFacts(
                code=indicator.code,
                name=indicator.name,
                formula=checked,
                unit_of_measure=indicator.unit_of_measure,
                variables={c: agency[c] for c in checked.variables if c in agency},
                explanation=indicator.explanation,
                data_source=indicator.data_source,
                has_target=indicator.id in with_targets,
                parent=codes.get(indicator.parent_id) if indicator.parent_id else None,
                parent_inferred=indicator.parent_inferred,
            )
        )
    rules = []
    for rule in session.exec(
        select(QualityRule)
        .where(QualityRule.agency_id == decree.agency_id)
        .order_by(col(QualityRule.code))
    ):
        try:
            left, right = parse(rule.left), parse(rule.right)
        except FormulaError:  # a stored side that no longer parses is checked by no rule
            continue
        rules.append(
            QualityRuleFacts(
                rule.code, rule.name, left, rule.operator.value, right, rule.period.value
            )
        )
    findings = lint(facts, agency, rules)
    counts = Counter(f.severity for f in findings)
    return LintReport(
        decree=DecreeRef.model_validate(decree),
        summary=LintSummary(
            error=counts[Severity.error],
            warning=counts[Severity.warning],
            info=counts[Severity.info],
            total=len(findings),
        ),
        findings=[
            LintFinding(
                code=f.code,
                severity=f.severity,
                indicator=f.indicator,
                variable=f.variable,
                rule=f.rule,
                message=f.message,
            )
            for f in findings
        ],
    )
