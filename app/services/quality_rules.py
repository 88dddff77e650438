"""Rules written by people (DHIS2's validation rules): list, get, create, change, delete.

Each side is checked as a formula is (`app.services.formulas`): the same grammar, the same
coded problems, every name a variable of the rule's agency. A variable a rule uses is
protected as one a formula uses: it cannot be renamed nor deleted while the rule holds it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlmodel import Session, col, or_, select

from app.core.errors import AppError, Conflict, InvalidInput
from app.core.etag import ETag
from app.formula import names_in
from app.models import Agency, QualityRule
from app.models.quality import QualityRuleBase
from app.quality import RulePeriod, Severity
from app.schemas.common import PageParams
from app.schemas.organization import AgencyRef
from app.schemas.quality import QualityRuleCreate, QualityRulePublic, QualityRuleUpdate
from app.services.common import (
    NewRows,
    agency_of,
    apply_changes,
    by_id,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    names,
    new_row,
    resolve_agency,
)
from app.services.formulas import checked_against, variable_codes


def rule_variables(rule: QualityRuleBase) -> list[str]:
    """The variable codes a rule's two sides use, left first (as each is read)."""
    return list(dict.fromkeys([*sorted(names_in(rule.left)), *sorted(names_in(rule.right))]))


def _views(session: Session, rules: Sequence[QualityRule]) -> list[QualityRulePublic]:
    agencies = by_id(session, Agency, {r.agency_id for r in rules})
    return [
        QualityRulePublic.model_validate(
            rule,
            update={
                "agency": AgencyRef.model_validate(agencies[rule.agency_id]),
                "variables": rule_variables(rule),
            },
        )
        for rule in rules
    ]


def etag(rule: QualityRule) -> ETag:
    """The ETag of a rule as stored: to send back as If-Match when changing or deleting it."""
    fields = [getattr(rule, name) for name in QualityRuleBase.model_fields]
    return ETag.of([rule.id, *fields, rule.updated_at.isoformat()])


def list_rules(
    session: Session,
    page: PageParams,
    *,
    agency: str | None = None,
    variable: str | None = None,
    severity: Severity | None = None,
    period: RulePeriod | None = None,
    q: str | None = None,
) -> tuple[list[QualityRulePublic], int]:
    """Rules by agency and code, filtered; `variable`: those whose sides use it."""
    query = select(QualityRule).join(Agency, col(Agency.id) == col(QualityRule.agency_id))
    if agency:
        query = query.where(Agency.code == agency)
    if severity is not None:
        query = query.where(QualityRule.severity == severity)
    if period is not None:
        query = query.where(QualityRule.period == period)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(col(QualityRule.code).ilike(pattern), col(QualityRule.name).ilike(pattern))
        )
    rows = list(session.exec(query.order_by(col(Agency.code), col(QualityRule.code))))
    if variable:  # read from each side's names, never a search of the text
        rows = [r for r in rows if variable in rule_variables(r)]
    return _views(session, rows[page.offset : page.offset + page.limit]), len(rows)


def read_rule(session: Session, rule_id: int) -> tuple[QualityRulePublic, ETag]:
    """One rule, and its ETag."""
    rule = get_or_404(session, QualityRule, rule_id, "Quality rule")
    return _views(session, [rule])[0], etag(rule)


def get_rule(session: Session, rule_id: int) -> QualityRulePublic:
    return read_rule(session, rule_id)[0]


def _check_sides(left: str, right: str, codes: set[str]) -> None:
    """Each side a formula over the agency's variables (the formulas' coded problems), and
    at least one variable between them (two constants compare the same in every quarter)."""
    used = set(checked_against(left, codes, "left").variables)
    used |= set(checked_against(right, codes, "right").variables)
    if not used:
        raise InvalidInput(
            "A rule compares at least one variable: both sides are constants", field="left"
        )


def _code_conflict(agency: Agency, codes: Sequence[str]) -> Conflict:
    if len(codes) == 1:
        return Conflict(
            f"Agency {agency.code} already has a quality rule '{codes[0]}'", field="code"
        )
    return Conflict(
        f"Agency {agency.code} already has a quality rule with one of the codes {names(codes)}",
        field="code",
    )


class NewQualityRules(NewRows[QualityRuleCreate, QualityRule]):
    """New rules of one agency (see `NewRows`): what the API's create and the seed share."""

    def __init__(self, session: Session, agency: Agency) -> None:
        codes = session.exec(select(QualityRule.code).where(QualityRule.agency_id == agency.id))
        super().__init__(session, dict.fromkeys(codes))
        self.agency = agency
        self.variables = variable_codes(session, id_of(agency))

    def check(self, data: QualityRuleCreate) -> tuple[str, QualityRule, None]:
        self.claim(data.code)
        _check_sides(data.left, data.right, self.variables)
        rule = new_row(QualityRule, data, agency_id=id_of(self.agency))
        return rule.code, rule, None

    def conflict(self, keys: Sequence[Hashable]) -> AppError:
        return _code_conflict(self.agency, [str(key) for key in keys])


def create_rule(session: Session, data: QualityRuleCreate) -> tuple[QualityRulePublic, ETag]:
    """A new rule of an agency, checked as formulas are; the rule and its ETag."""
    new = NewQualityRules(session, resolve_agency(session, data.agency))
    new.add(data)
    (rule,) = new.write()
    return _views(session, [rule])[0], etag(rule)


def update_rule(
    session: Session, rule_id: int, data: QualityRuleUpdate, if_match: str | None = None
) -> tuple[QualityRulePublic, ETag]:
    """Change a rule (412 when `if_match` names another version); the rule and its ETag.
    A rule's change touches no figure nor the findings stored with a step: a quarter
    verified before keeps the findings its verifier saw."""
    rule = get_or_404(session, QualityRule, rule_id, "Quality rule")
    etag(rule).require(if_match)
    agency = agency_of(session, rule.agency_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    code = changes.get("code", rule.code)
    if code != rule.code and exists(
        session,
        select(QualityRule.id).where(
            QualityRule.agency_id == agency.id, QualityRule.code == code, QualityRule.id != rule.id
        ),
    ):
        raise _code_conflict(agency, [code])
    if "left" in changes or "right" in changes:
        _check_sides(
            changes.get("left", rule.left),
            changes.get("right", rule.right),
            variable_codes(session, id_of(agency)),
        )
    apply_changes(session, rule, changes, _code_conflict(agency, [code]))
    return _views(session, [rule])[0], etag(rule)


def delete_rule(session: Session, rule_id: int, if_match: str | None = None) -> None:
    """Delete a rule (412 when `if_match` names another version)."""
    rule = get_or_404(session, QualityRule, rule_id, "Quality rule")
    etag(rule).require(if_match)
    delete_rows(session, [rule], f"Quality rule {rule.code}")


def rules_using(session: Session, agency_id: int, code: str) -> list[str]:
    """The codes of the agency's rules whose sides use variable `code`, from the names each
    side is read with (never a search of the text)."""
    rows = session.exec(
        select(QualityRule.code, QualityRule.left, QualityRule.right)
        .where(QualityRule.agency_id == agency_id)
        .order_by(col(QualityRule.code))
    )
    return [rule for rule, left, right in rows if code in names_in(left) | names_in(right)]
