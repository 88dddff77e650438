"""The verification workflow of a unit's quarter: submit, verify, return, reopen.

    open --submit--> submitted --verify--> verified --reopen--> open
                     submitted --return--> returned --submit--> submitted

While a quarter is submitted or verified, the unit's data of that quarter is locked
(`queries.locked_periods`, checked by the one write path of data values). Every step is audited with
its note (`audit.action`).

Each step writes its webhook events to the outbox in its own transaction
(`webhooks.record_step`), after the seal: a step rolled back sends nothing.

A submit and a verify check the quarter's data first (`app.services.quality`): errors must
be explained, and the findings with their explanations are kept with the step
(`Period.findings`), so a verified quarter keeps what its verifier saw.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.achievement import ANNUAL
from app.core.db import utcnow
from app.core.errors import (
    AppError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    QualityErrors,
    SelfVerification,
)
from app.core.security import Principal
from app.models import (
    Agency,
    Capability,
    DataValue,
    Period,
    PeriodState,
    RatingScale,
    Target,
    Unit,
    Variable,
)
from app.quality import Finding
from app.schemas.common import PageParams
from app.schemas.workflow import PeriodPublic, PeriodStep, Step
from app.services import achievements, audit, quality, webhooks
from app.services.common import lock_agency_data, resolve_agency, unit_of_path
from app.services.queries import events_of_records, indicators_over, require_decree


@dataclass(frozen=True)
class Transition:
    """What a step does: the states it leaves from, the state it leads to, and the
    capability it needs."""

    sources: frozenset[PeriodState]
    target: PeriodState
    capability: Capability


TRANSITIONS: dict[Step, Transition] = {
    Step.submit: Transition(
        frozenset({PeriodState.open, PeriodState.returned}),
        PeriodState.submitted,
        Capability.submit,
    ),
    Step.verify: Transition(
        frozenset({PeriodState.submitted}), PeriodState.verified, Capability.verify
    ),
    Step.return_: Transition(
        frozenset({PeriodState.submitted}), PeriodState.returned, Capability.verify
    ),
    Step.reopen: Transition(frozenset({PeriodState.verified}), PeriodState.open, Capability.verify),
}
NOTE_REQUIRED = {Step.return_: "what to fix", Step.reopen: "why it is reopened"}
SEALING = frozenset({Step.verify, Step.reopen})
"""The steps after which the figures resting on the quarter are sealed anew: a verify seals
what the verifier saw, a reopen unseals what rests on nothing verified any more."""
CHECKED = frozenset({Step.submit, Step.verify})
"""The steps that check the quarter's data first and keep the findings with the step."""
MAX_LISTED = 50
"""At most this many unexplained errors are listed in a refusal (`total` counts them all)."""


@dataclass(frozen=True)
class Move:
    """A step about to be taken, with the stored facts the checks before it rule on."""

    principal: Principal
    step: Step
    unit: str
    year: int
    quarter: int
    writers: Writers
    """Who wrote what the unit's quarter rests on (gathered for a verify)."""
    findings: tuple[Finding, ...] = ()
    """The quarter's data-quality findings (computed for a submit and a verify)."""
    explanations: Mapping[str, str] = field(default_factory=dict)
    """The explanations given for them, by finding key (at submit, and at verify)."""


def four_eyes(move: Move) -> AppError | None:
    """Nobody verifies a quarter resting on anything they wrote (values, targets,
    definitions): principals are compared by
    identity, not by name, so a lookalike or reused name neither hides nor blames anyone."""
    if move.step != Step.verify or not move.writers.include(move.principal):
        return None
    return SelfVerification(
        f"Four eyes: {move.principal.name} wrote data, targets or definitions that "
        f"{move.unit} {move.year} Q{move.quarter} rests on, so another verifier must verify it",
        writers=sorted(move.writers.names),
    )


def quality_explained(move: Move) -> AppError | None:
    """No quarter is submitted or verified with a data-quality error that nobody explained:
    correct the data, or say why it is so (`explanations`, by the finding's key)."""
    if move.step not in CHECKED:
        return None
    unexplained = quality.unexplained_errors(move.findings, move.explanations)
    if not unexplained:
        return None
    keys = ", ".join(f.key for f in unexplained[:5])
    more = f" and {len(unexplained) - 5} more" if len(unexplained) > 5 else ""
    return QualityErrors(
        f"{move.unit} {move.year} Q{move.quarter} has {len(unexplained)} data-quality "
        f"error(s) without an explanation ({keys}{more}): correct the data, or explain each "
        "in `explanations` by its key",
        findings=[quality.finding_view(f) for f in unexplained[:MAX_LISTED]],
        total=len(unexplained),
    )


Check = Callable[[Move], AppError | None]
CHECKS_BEFORE: tuple[Check, ...] = (four_eyes, quality_explained)
"""Pure checks run before every step, in order; the first refusal stops the step. A new
check is one function and one line here."""


def refusal(move: Move, checks: Iterable[Check] = CHECKS_BEFORE) -> AppError | None:
    """The first check that refuses the move, if any."""
    return next((error for check in checks if (error := check(move)) is not None), None)


def _view(agency: Agency, unit: Unit, year: int, quarter: int, row: Period | None) -> PeriodPublic:
    """A unit's quarter as answered: its row's fields, or (never moved) open and no more."""
    stored = row.model_dump() if row is not None else {"state": PeriodState.open}
    where = {"agency": agency.code, "unit": unit.code, "unit_name": unit.name, "year": year}
    return PeriodPublic.model_validate(
        dict.fromkeys(PeriodPublic.model_fields) | stored | where | {"quarter": quarter}
    )


@dataclass(frozen=True)
class Writers:
    """Who wrote what a unit's quarter rests on: their identities (`key:12`) and names.
    Events recorded before identities were kept carry a name only."""

    identities: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    unidentified_names: frozenset[str] = frozenset()

    def include(self, principal: Principal) -> bool:
        return principal.identity in self.identities or principal.name in self.unidentified_names


def writers(session: Session, unit: Unit, year: int, quarter: int) -> Writers:
    """Who ever wrote anything the unit's figures of the quarter rest on: its values of the
    quarter, its variables, the indicators of the year over them and the targets (annual and
    of the quarter) they are measured against, and the agency's rating scale."""
    variables = session.exec(
        select(Variable.id, Variable.code).where(Variable.owner_unit_id == unit.id)
    ).all()
    codes = {code for _, code in variables}
    value_ids = session.exec(
        select(DataValue.id).where(
            col(DataValue.variable_id).in_([i for i, _ in variables]),
            DataValue.year == year,
            DataValue.quarter == quarter,
        )
    ).all()
    indicator_ids = [ident for ident, _, _ in indicators_over(session, unit.agency_id, codes, year)]
    target_ids = session.exec(
        select(Target.id).where(
            col(Target.indicator_id).in_(indicator_ids),
            Target.year == year,
            col(Target.quarter).in_([ANNUAL, quarter]),
        )
    ).all()
    agency = session.get(Agency, unit.agency_id)
    scale_id = agency.rating_scale_id if agency else None
    if scale_id is None:
        scale_id = session.exec(select(RatingScale.id).where(col(RatingScale.is_default))).first()
    events = events_of_records(
        session,
        {
            "data_value": value_ids,
            "variable": [i for i, _ in variables],
            "indicator": indicator_ids,
            "target": target_ids,
            "rating_scale": [scale_id],
            "agency": [unit.agency_id],
        },
    )
    # Of the agency's own events, only a change of its scale feeds its figures.
    feeding = [e for e in events if e.entity != "agency" or "rating_scale_id" in (e.after or {})]
    return Writers(
        identities=frozenset(e.actor_id for e in feeding if e.actor_id),
        names=frozenset(e.actor for e in feeding if e.actor),
        unidentified_names=frozenset(e.actor for e in feeding if e.actor and not e.actor_id),
    )


def may_take(principal: Principal, step: Step, unit_id: int) -> bool:
    """Whether the principal may take the step on the unit's quarters (in a state the step
    leaves from): its role holds the step's capability, and a submit is of its units."""
    return principal.can(TRANSITIONS[step].capability) and (
        step != Step.submit or principal.may_submit_unit(unit_id)
    )


def steps_open_to(principal: Principal, unit_id: int, state: PeriodState) -> list[Step]:
    """The steps the principal may take now on a unit's quarter in `state` (the checks
    before a step, four eyes and the data's quality, are still to pass)."""
    return [
        step
        for step, transition in TRANSITIONS.items()
        if state in transition.sources and may_take(principal, step, unit_id)
    ]


def _authorize(principal: Principal, step: Step, unit: Unit) -> None:
    capability = TRANSITIONS[step].capability
    if not principal.can(capability):
        raise Forbidden(
            f"To {step.value} a quarter needs the capability '{capability}', which the role "
            f"'{principal.role}' does not have"
        )
    if not may_take(principal, step, unit.id or 0):
        raise Forbidden(f"Only an operator of {unit.code} (or an admin) may submit its quarter")


def take_step(
    session: Session,
    principal: Principal,
    step: Step,
    *,
    agency_code: str | None,
    unit_code: str,
    year: int,
    quarter: int,
    body: PeriodStep,
) -> PeriodPublic:
    """Move a unit's quarter one step through the workflow, or refuse with nothing changed."""
    agency = resolve_agency(session, agency_code)
    unit = unit_of_path(session, agency, unit_code)
    require_decree(session, year, agency)
    _authorize(principal, step, unit)
    if step in NOTE_REQUIRED and not body.note:
        raise InvalidInput(f"Say {NOTE_REQUIRED[step]} in `note`", field="note")
    lock_agency_data(session, agency)  # no value is written while the state changes
    row = session.exec(
        select(Period).where(
            Period.unit_id == unit.id, Period.year == year, Period.quarter == quarter
        )
    ).first()
    current = row.state if row else PeriodState.open
    transition = TRANSITIONS[step]
    if current not in transition.sources:
        allowed = sorted(s.value for s, t in TRANSITIONS.items() if current in t.sources)
        raise InvalidTransition(
            f"{unit.code} {year} Q{quarter} is {current.value}: it cannot be "
            f"{step.past} (allowed now: {', '.join(allowed) or 'none'})",
            state=current.value,
            allowed=allowed,
        )
    findings = quality.findings_of(session, agency, unit, year, quarter) if step in CHECKED else []
    explanations = _explanations(step, body, row, findings)
    move = Move(
        principal,
        step,
        unit.code,
        year,
        quarter,
        writers=writers(session, unit, year, quarter) if step == Step.verify else Writers(),
        findings=tuple(findings),
        explanations=explanations,
    )
    if (error := refusal(move)) is not None:
        raise error
    target = transition.target
    with audit.action(session, step.value):
        if row is None:
            row = Period(
                agency_id=agency.id or 0,
                unit_id=unit.id or 0,
                year=year,
                quarter=quarter,
                state=target,
                changed_at=utcnow(),
                changed_by=principal.name,
            )
        row.state = target
        row.note = body.note
        row.changed_at = utcnow()
        row.changed_by = principal.name
        row.changed_by_role = principal.role
        if step in CHECKED:
            row.explanations = dict(explanations) or None
            row.findings = quality.stored_findings(findings, explanations)
        session.add(row)
    if step in SEALING:
        achievements.seal(session, unit.id or 0, year, quarter)
    view = _view(agency, unit, year, quarter, row)
    with audit.action(session, step.value):  # its deliveries are audited as the step
        webhooks.record_step(session, step, agency, unit, view)
    return view


def _explanations(
    step: Step, body: PeriodStep, row: Period | None, findings: list[Finding]
) -> dict[str, str]:
    """The explanations a step keeps: a submit's own; at a verify, those of the submit and
    the verifier's of findings not explained yet. Each must name a finding of the quarter."""
    given = body.explanations or {}
    if given and step not in CHECKED:
        raise InvalidInput(
            "Explanations of data-quality findings are given to submit or verify",
            field="explanations",
        )
    keys = {f.key for f in findings}
    unknown = sorted(set(given) - keys)
    if unknown:
        raise InvalidInput(
            f"No finding of this quarter has the key {unknown[0]!r}"
            + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + "; the keys are those of GET .../checks",
            field=f"explanations.{unknown[0]}",
            keys=unknown[:MAX_LISTED],
        )
    if step == Step.submit:
        return dict(given)
    stored = dict((row.explanations if row else None) or {})
    again = sorted(set(given) & set(stored))
    if again:
        raise InvalidInput(
            f"{again[0]!r} was explained at submit; a verify explains only findings that "
            "were not explained",
            field=f"explanations.{again[0]}",
        )
    return stored | given


def list_periods(
    session: Session,
    page: PageParams,
    *,
    year: int,
    quarter: int | None = None,
    agency: str | None = None,
    unit: str | None = None,
    state: PeriodState | None = None,
    unit_ids: Collection[int] | None = None,
) -> tuple[list[PeriodPublic], int]:
    """Every unit's quarters of a year (or one quarter) with their state, by agency, unit
    and quarter; a quarter that never moved is open. `unit_ids`: of these units only."""
    require_decree(session, year)
    query = select(Unit, Agency).join(Agency, Agency.id == Unit.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if unit:
        query = query.where(Unit.code == unit)
    if unit_ids is not None:
        query = query.where(col(Unit.id).in_(unit_ids))
    units = session.exec(query.order_by(col(Agency.code), col(Unit.code))).all()
    quarters = [quarter] if quarter else [1, 2, 3, 4]
    rows = {
        (r.unit_id, r.quarter): r
        for r in session.exec(
            select(Period).where(
                col(Period.unit_id).in_([u.id for u, _ in units]),
                Period.year == year,
                col(Period.quarter).in_(quarters),
            )
        )
    }
    views = [_view(a, u, year, q, rows.get((u.id or 0, q))) for u, a in units for q in quarters]
    if state is not None:
        views = [v for v in views if v.state == state]
    return views[page.offset : page.offset + page.limit], len(views)
