"""Incremental pulls that never miss a change: a cursor over the audit trail in commit order.

A timestamp taken before commit cannot order changes: on PostgreSQL two transactions may
commit in the opposite order of their clocks, so a client that resumes from the largest
`updated_at` it saw can miss the one that committed last. The cursor is a position that
every change committed after it is at or beyond:

- PostgreSQL: each audit event carries its transaction's id (`txid`). A pull takes the
  horizon of its snapshot (`pg_snapshot_xmin`): every transaction below it had ended when
  the pull read, so its changes were seen; the next pull asks for events of transactions at
  or above it, which includes every one still running then.
- SQLite: writers are serialised (each holds the write lock from its first statement to its
  commit), so event ids are in commit order; the position is the next event id.

A change may be answered twice (by the pull that saw it and the next one), never not at all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from app.core.errors import InvalidInput
from app.core.plans import in_order
from app.models import (
    AuditEvent,
    DataValue,
    Decree,
    Indicator,
    Objective,
    Period,
    Target,
    Variable,
)
from app.services.formulas import formula_variables

_TOKEN = re.compile(r"c1-([0-9]{1,18})")  # as CURSOR_PATTERN says

# Records whose change does not change any achievement.
_IRRELEVANT = frozenset(
    {"api_key", "api_key_unit", "unit", "seed_load", "webhook_subscription", "webhook_delivery"}
)


@dataclass(frozen=True)
class Cursor:
    """A position in the commit order of changes."""

    position: int

    @property
    def token(self) -> str:
        return f"c1-{self.position}"

    @classmethod
    def parse(cls, token: str, field: str = "cursor") -> Cursor:
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise InvalidInput(
                "Not a cursor of this service: send back the `cursor` of an earlier answer",
                field=field,
            )
        return cls(int(match.group(1)))


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def current(session: Session) -> Cursor:
    """The position to resume from after a pull that reads from now on."""
    if _on_postgres(session):
        horizon = session.exec(  # type: ignore[call-overload]
            text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        ).scalar_one()
        return Cursor(int(horizon))
    last = session.exec(select(func.max(AuditEvent.id))).one()
    return Cursor((last or 0) + 1)


def _events_since(session: Session, cursor: Cursor) -> list[AuditEvent]:
    position = col(AuditEvent.txid) if _on_postgres(session) else col(AuditEvent.id)
    return list(
        session.exec(
            select(AuditEvent).where(
                position >= cursor.position, col(AuditEvent.entity).not_in(_IRRELEVANT)
            )
        )
    )


def _ids(events: list[AuditEvent], entity: str) -> set[int]:
    return {int(e.entity_id.split(":")[0]) for e in events if e.entity == entity}


def changed_values(session: Session, cursor: Cursor) -> set[int]:
    """Ids of the data values changed at or after the cursor."""
    return _ids(_events_since(session, cursor), "data_value")


def changed_indicators(session: Session, cursor: Cursor, year: int) -> set[int]:
    """Ids of the indicators of `year` whose achievements may differ from what a pull before
    the cursor saw: their definition, position, decree, agency, rating scale, variables,
    data, targets or workflow state changed."""
    events = _events_since(session, cursor)
    if not events:
        return set()
    indicators = session.exec(
        select(Indicator.id, Indicator.formula, Indicator.objective_id, Decree.agency_id)
        .select_from(
            in_order(
                Decree,
                (Indicator, col(Indicator.decree_id) == col(Decree.id), "ix_indicator_decree_id"),
            )
        )
        .where(Decree.year == year)
    ).all()
    if any(e.entity == "rating_scale" for e in events):  # a scale may rate any agency
        return {ident for ident, *_ in indicators if ident is not None}
    changed = _ids(events, "indicator") | _ids(events, "indicator_source_unit")
    changed |= {
        t.indicator_id
        for t in session.exec(select(Target).where(col(Target.id).in_(_ids(events, "target"))))
    }
    changed |= {
        int(e.before["indicator_id"])
        for e in events
        if e.entity == "target" and e.before and "indicator_id" in e.before
    }
    objectives = _ids(events, "objective") | set(
        session.exec(
            select(Objective.id).where(
                col(Objective.position_id).in_(_ids(events, "position"))
                | col(Objective.decree_id).in_(_ids(events, "decree"))
            )
        )
    )
    agencies = _ids(events, "agency")
    variables = _ids(events, "variable") | set(
        session.exec(
            select(DataValue.variable_id).where(
                col(DataValue.id).in_(_ids(events, "data_value")), DataValue.year == year
            )
        )
    )
    units = set(
        session.exec(
            select(Period.unit_id).where(
                col(Period.id).in_(_ids(events, "period")), Period.year == year
            )
        )
    )
    codes: dict[int, set[str]] = defaultdict(set)
    for agency_id, code in session.exec(
        select(Variable.agency_id, Variable.code).where(
            col(Variable.id).in_(variables) | col(Variable.owner_unit_id).in_(units)
        )
    ):
        codes[agency_id].add(code)
    for ident, formula, objective_id, agency_id in indicators:
        if ident is None or ident in changed:
            continue
        if (
            objective_id in objectives
            or agency_id in agencies
            or (codes[agency_id] and codes[agency_id].intersection(formula_variables(formula)))
        ):
            changed.add(ident)
    return changed
