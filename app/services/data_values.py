"""Realisasi in: the one write path for data values (single requests and imports alike),
and the ETags that guard it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import (
    Forbidden,
    InvalidDefinition,
    InvalidInput,
    PeriodLocked,
    WriteConflict,
)
from app.core.etag import ETag
from app.core.security import Principal
from app.core.text import control_characters
from app.core.types import MAX_TEXT, number_problem
from app.formula import FormulaError, parse
from app.models import (
    Agency,
    DataValue,
    Decree,
    Indicator,
    PeriodState,
    Unit,
    ValueType,
    Variable,
)
from app.schemas.achievements import AchievementPublic
from app.schemas.common import PageParams
from app.schemas.data_values import (
    DataValuePublic,
    DataValuesPut,
    DataValuesWritten,
    ValueChange,
    is_unsafe_link,
)
from app.services import changes, queries
from app.services.achievements import compute_for
from app.services.changes import Cursor
from app.services.common import (
    NAMES_SHOWN,
    find_agency,
    lock_agency_data,
    paginate,
    quote,
    resolve_agency,
    savepoint,
)
from app.services.queries import (
    AgencyVariables,
    existing_values,
    indicator_in_year,
    load_agency_variables,
    locked_periods,
    require_decree,
)


class Keep(Enum):
    """Marks a field that was not sent, so its stored value stays."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Write:
    """One value to store: a variable's value for (year, quarter). A note or evidence of
    KEEP leaves the stored one as it is (it was not sent)."""

    variable: str
    year: int
    quarter: int
    value: Any
    note: str | Keep | None = None
    evidence: str | Keep | None = None
    row: int | None = None  # for imports: where it came from


@dataclass(frozen=True)
class QuarterValues:
    """Values of variables for one quarter, as one request writes them. A note or evidence
    of KEEP leaves the stored one as it is (it was not sent); None clears it. `notes` and
    `evidences` give a variable a note or evidence of its own, in place of the shared one
    (the form of the pages has one per variable; the API one per request).

    The values are checked as they are written (`check_value`): anything but a number (a
    form's text that does not read as one) is refused as `not_a_number`."""

    year: int
    quarter: int
    values: Mapping[str, Any]
    note: str | Keep | None = KEEP
    evidence: str | Keep | None = KEEP
    notes: Mapping[str, str | Keep | None] = field(default_factory=dict)
    evidences: Mapping[str, str | Keep | None] = field(default_factory=dict)

    @classmethod
    def of(cls, year: int, quarter: int, body: DataValuesPut) -> QuarterValues:
        """The values of a request body: a note or evidence not sent keeps the stored one."""
        sent = body.model_fields_set
        return cls(
            year,
            quarter,
            body.values,
            note=body.note if "note" in sent else KEEP,
            evidence=body.evidence if "evidence" in sent else KEEP,
        )

    def writes(self) -> list[Write]:
        return [
            Write(
                code,
                self.year,
                self.quarter,
                value,
                self.notes.get(code, self.note),
                self.evidences.get(code, self.evidence),
            )
            for code, value in self.values.items()
        ]


@dataclass
class Rejection:
    code: str
    message: str
    field: str
    write: Write


@dataclass
class Outcome:
    """What a batch of writes did or would do."""

    rows: list[DataValue] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def check_value(variable: Variable, value: Any) -> tuple[str, str] | None:
    """Why `value` cannot be stored for `variable` as (code, message), or None if it can."""
    problem = number_problem(value)
    if problem:
        return problem
    if variable.value_type == ValueType.integer and not float(value).is_integer():
        return (
            "not_an_integer",
            f"'{variable.code}' counts {variable.unit_of_measure}: a whole number",
        )
    if variable.min_value is not None and value < variable.min_value:
        return "out_of_range", f"must be at least {variable.min_value:g}"
    if variable.max_value is not None and value > variable.max_value:
        return "out_of_range", f"must be at most {variable.max_value:g}"
    return None


def check_texts(write: Write) -> tuple[str, str, str] | None:
    """Why a write's note or evidence cannot be stored, as (code, message, column)."""
    texts = (("note", write.note), ("evidence", write.evidence))
    for column, value in texts:
        if value is KEEP or value is None:
            continue
        if not isinstance(value, str):
            return "invalid_field", f"{column} must be text", column
        if len(value) > MAX_TEXT:
            return "too_long", f"{column} is longer than {MAX_TEXT} characters", column
    if isinstance(write.evidence, str) and is_unsafe_link(write.evidence):
        return "unsafe_link", "a link must be an http(s) URL with a host", "evidence"
    for column, value in texts:
        # A note may run over lines; a link is one line.
        text = value if isinstance(value, str) else ""
        found = control_characters(text, multiline=column == "note")
        if found:
            shown = ", ".join(found[:NAMES_SHOWN])
            return "control_character", f"{column} holds control characters ({shown})", column
    return None


def _decree_years(session: Session, agency_id: int) -> set[int]:
    return set(session.exec(select(Decree.year).where(Decree.agency_id == agency_id)))


def apply_writes(
    session: Session,
    principal: Principal,
    scope: AgencyVariables,
    writes: Sequence[Write],
    *,
    dry_run: bool = False,
    atomic: bool = True,
    field_prefix: str = "values",
    stored: Mapping[tuple[int, int, int], DataValue] | None = None,
) -> Outcome:
    """Validate every write, then (unless a dry run, or atomic with rejections) store them.
    `stored`: the values at the writes' keys, read by the caller under the agency's lock
    (`lock_agency_data`) that it holds already.

    Validation covers: unknown variable, the key's unit scope, a value of the wrong type,
    out of range or not finite, a note or evidence that cannot be stored (`check_texts`), a
    quarter outside 1..4, a year without a decree, a quarter that its unit submitted or that
    was verified (locked). The agency's writers are serialised (see `lock_agency_data`) from
    before the locks are read to the commit."""
    if not dry_run and stored is None:
        lock_agency_data(session, scope.agency)
    years = _decree_years(session, scope.agency.id or 0)
    locked = locked_periods(session, scope.agency.id or 0)
    outcome = Outcome()
    valid: list[tuple[Write, Variable]] = []
    forbidden: list[str] = []
    for write in writes:
        where = f"{field_prefix}.{write.variable}"
        variable = scope.variables.get(write.variable)
        if variable is None:
            outcome.rejections.append(
                Rejection(
                    "unknown_variable",
                    f"'{quote(write.variable)}' is not a variable of {scope.agency.code}",
                    where,
                    write,
                )
            )
            continue
        problem = _check_period(write, years) or check_value(variable, write.value)
        if problem is not None:
            code, message = problem
            column = {"invalid_quarter": "quarter", "year_not_in_decree": "year"}.get(code, where)
            outcome.rejections.append(Rejection(code, message, column, write))
            continue
        # Texts come checked by the API's schema and an import's reading; a page's form
        # sends them as typed.
        text_problem = check_texts(write)
        if text_problem is not None:
            code, message, column = text_problem
            outcome.rejections.append(Rejection(code, message, f"{column}.{write.variable}", write))
            continue
        if not principal.may_write_unit(variable.owner_unit_id):
            forbidden.append(write.variable)
            continue
        state = locked.get((variable.owner_unit_id, write.year, write.quarter))
        if state is not None:
            unit = scope.units[variable.owner_unit_id]
            message = (
                f"{unit.code} {write.year} Q{write.quarter} is {state.value}: its data is "
                "locked until it is returned or reopened"
            )
            outcome.rejections.append(Rejection("period_locked", message, "quarter", write))
            continue
        valid.append((write, variable))
    if forbidden:
        names = ", ".join(sorted(set(forbidden)))
        raise Forbidden(
            f"Your key may not write {names}: not owned by its units",
            variables=sorted(set(forbidden)),
        )
    if outcome.rejections and atomic:
        return outcome
    _store(session, principal, scope, valid, outcome, dry_run=dry_run, stored=stored)
    return outcome


def _check_period(write: Write, years: set[int]) -> tuple[str, str] | None:
    if isinstance(write.quarter, bool) or write.quarter not in (1, 2, 3, 4):
        return "invalid_quarter", f"quarter must be 1, 2, 3 or 4, not {write.quarter!r}"
    if write.year not in years:
        known = ", ".join(str(y) for y in sorted(years)) or "none"
        return "year_not_in_decree", f"no decree for year {write.year!r} (years: {known})"
    return None


def _store(
    session: Session,
    principal: Principal,
    scope: AgencyVariables,
    valid: list[tuple[Write, Variable]],
    outcome: Outcome,
    *,
    dry_run: bool,
    stored: Mapping[tuple[int, int, int], DataValue] | None = None,
) -> None:
    current = (
        stored
        if stored is not None
        else existing_values(session, ((v.id or 0, w.year, w.quarter) for w, v in valid))
    )
    now = utcnow()
    seen: dict[tuple[int, int, int], DataValue] = {}
    created: list[DataValue] = []
    for write, variable in valid:
        key = (variable.id or 0, write.year, write.quarter)
        value = float(write.value)
        row = seen.get(key) or current.get(key)
        if row is None:
            row = DataValue(
                variable_id=key[0],
                year=write.year,
                quarter=write.quarter,
                value=value,
                note=None if write.note is KEEP else write.note,
                evidence=None if write.evidence is KEEP else write.evidence,
                version=1,
                created_at=now,
                updated_at=now,
                updated_by=principal.name,
            )
            outcome.created += 1
            seen[key] = row
            created.append(row)
            continue
        note = row.note if write.note is KEEP else write.note
        evidence = row.evidence if write.evidence is KEEP else write.evidence
        if (row.value, row.note, row.evidence) == (value, note, evidence):
            outcome.unchanged += 1
        else:
            outcome.updated += 1
            if not dry_run:
                row.value, row.note, row.evidence = value, note, evidence
                row.version += 1
                row.updated_at = now
                row.updated_by = principal.name
                session.add(row)
        seen[key] = row
    outcome.rows = list(seen.values())
    if dry_run:
        return
    if not created:
        # Only changes of value, note and evidence, of rows read under the agency's lock: no
        # constraint can refuse them, so no savepoint is needed to turn a refusal into a 409.
        session.flush()
        return
    # New rows go in a savepoint: if a concurrent writer created one of them first, only the
    # savepoint is lost and the caller gets a clear conflict.
    conflict = WriteConflict(
        "These values were written by someone else at the same time; read them and retry"
    )
    with savepoint(session, conflict):
        session.add_all(created)


def _etag(rows: Iterable[DataValue | None]) -> ETag:
    """A strong ETag over the identity and version of stored values (None: not stored yet)."""
    return ETag.of(
        sorted(
            f"{r.variable_id}:{r.year}:{r.quarter}:{r.version}" if r is not None else "-"
            for r in rows
        )
    )


def _keys_etag(
    stored: Mapping[tuple[int, int, int], DataValue], keys: Sequence[tuple[int, int, int]]
) -> ETag:
    """The ETag of the values at `keys` (variable_id, year, quarter), from those stored."""
    return _etag(stored.get(k) for k in keys)


def raise_rejections(outcome: Outcome) -> None:
    """Turn the rejections of a single request into one problem: 409 when a quarter is
    locked, else a 422 naming each field."""
    if not outcome.rejections:
        return
    locked = [r for r in outcome.rejections if r.code == "period_locked"]
    if locked:
        raise PeriodLocked(locked[0].message, variables=sorted({r.write.variable for r in locked}))
    errors = [{"field": r.field, "message": r.message, "type": r.code} for r in outcome.rejections]
    first = outcome.rejections[0]
    raise InvalidInput(
        f"{first.field}: {first.message}"
        + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
        errors=errors,
    )


def value_views(scope: AgencyVariables, rows: Iterable[DataValue]) -> list[DataValuePublic]:
    by_id = {v.id: v for v in scope.variables.values()}
    views = []
    for row in rows:
        variable = by_id[row.variable_id]
        unit = scope.units[variable.owner_unit_id]
        views.append(_view(row, variable.code, scope.agency.code, unit.code))
    return sorted(views, key=lambda v: (v.variable, v.year, v.quarter))


def _view(row: DataValue, variable: str, agency: str, unit: str) -> DataValuePublic:
    return DataValuePublic.model_validate(
        row.model_dump() | {"variable": variable, "agency": agency, "owner_unit": unit}
    )


# Use cases -----------------------------------------------------------------------------------


def _refuse_foreign(values: Mapping[str, float], variable_codes: Sequence[str]) -> None:
    """422 naming the sent variables that the indicator's formula does not use."""
    foreign = sorted(set(values) - set(variable_codes))
    if not foreign:
        return
    raise InvalidInput(
        f"Not a variable of this indicator: {', '.join(foreign)} "
        f"(its variables: {', '.join(variable_codes)})",
        errors=[
            {
                "field": f"values.{c}",
                "message": "not a variable of this indicator",
                "type": "unknown_variable",
            }
            for c in foreign
        ],
    )


def _indicator_quarter(
    session: Session, indicator_id: int, year: int, quarter: int
) -> tuple[Indicator, AgencyVariables, Sequence[str], list[tuple[int, int, int]]]:
    """An indicator of `year`, its agency's variables, the codes its formula uses and the
    keys of their values for the quarter (what the realization's ETag covers)."""
    indicator, agency = indicator_in_year(session, indicator_id, year)
    try:
        codes = parse(indicator.formula).variables
    except FormulaError as exc:
        raise InvalidDefinition(
            f"The formula of {indicator.code} is not valid any more ({exc.message}); an admin "
            "must correct it"
        ) from exc
    scope = load_agency_variables(session, agency, codes)
    gone = [c for c in codes if c not in scope.variables]
    if gone:
        raise InvalidDefinition(
            f"The formula of {indicator.code} uses {', '.join(gone)}, which no longer exist; "
            "an admin must correct it"
        )
    keys = [(scope.variables[c].id or 0, year, quarter) for c in codes]
    return indicator, scope, codes, keys


def read_realization(
    session: Session, indicator_id: int, year: int, quarter: int
) -> tuple[AchievementPublic, ETag]:
    """An indicator's achievement at a quarter, and the ETag of the values behind it (what
    to send as If-Match when writing them)."""
    indicator, _scope, _codes, keys = _indicator_quarter(session, indicator_id, year, quarter)
    etag = _keys_etag(existing_values(session, keys), keys)
    return compute_for(session, [indicator.id or 0], year, [quarter])[0], etag


def write_realization(
    session: Session,
    principal: Principal,
    indicator_id: int,
    sent: QuarterValues,
    *,
    if_match: str | None,
) -> tuple[AchievementPublic, ETag]:
    """Write some of an indicator's variables for a quarter; answer the recomputed
    achievement and the new ETag, which covers all of the indicator's variables."""
    year, quarter = sent.year, sent.quarter
    indicator, scope, codes, keys = _indicator_quarter(session, indicator_id, year, quarter)
    _refuse_foreign(sent.values, codes)
    lock_agency_data(session, scope.agency)
    stored = existing_values(session, keys)
    _keys_etag(stored, keys).require(if_match)
    outcome = apply_writes(session, principal, scope, sent.writes(), stored=stored)
    raise_rejections(outcome)
    # The rows written are the stored ones, flushed with their new versions.
    now = dict(stored) | {(r.variable_id, r.year, r.quarter): r for r in outcome.rows}
    return compute_for(session, [indicator.id or 0], year, [quarter])[0], _keys_etag(now, keys)


def write_quarter(
    session: Session,
    principal: Principal,
    agency_code: str | None,
    sent: QuarterValues,
    *,
    if_match: str | None,
) -> tuple[DataValuesWritten, ETag]:
    """Write any variables of one agency for a quarter; answer the stored values and the
    ETag of the agency's data sheet for that quarter (see `sheet_etag`)."""
    year, quarter = sent.year, sent.quarter
    agency = resolve_agency(session, agency_code)
    require_decree(session, year, agency)
    scope = load_agency_variables(session, agency)
    keys = [
        (scope.variables[c].id or 0, year, quarter)
        for c in sorted(sent.values)
        if c in scope.variables
    ]
    lock_agency_data(session, agency)
    sheet = _sheet(session, agency, year, quarter)
    _etag(sheet.values()).require(if_match)
    outcome = apply_writes(session, principal, scope, sent.writes(), stored=sheet)
    raise_rejections(outcome)
    # The rows written are the sheet's, flushed with their new versions, and the new ones.
    sheet |= {(r.variable_id, r.year, r.quarter): r for r in outcome.rows}
    written = DataValuesWritten(
        items=value_views(scope, [sheet[k] for k in keys if k in sheet]),
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
    )
    return written, _etag(sheet.values())


def _sheet(
    session: Session, agency: Agency, year: int, quarter: int
) -> dict[tuple[int, int, int], DataValue]:
    """An agency's stored values for one quarter, by (variable id, year, quarter)."""
    rows = session.exec(
        select(DataValue)
        .join(Variable, Variable.id == DataValue.variable_id)  # type: ignore[arg-type]
        .where(
            Variable.agency_id == agency.id, DataValue.year == year, DataValue.quarter == quarter
        )
    )
    return {(r.variable_id, r.year, r.quarter): r for r in rows}


def sheet_etag(session: Session, agency: Agency, year: int, quarter: int) -> ETag:
    """The ETag of an agency's data for one quarter: all its variables' values, as `GET
    /data-values?year=&quarter=` shows them and `PUT /data-values/{year}/{quarter}` writes."""
    return _etag(_sheet(session, agency, year, quarter).values())


class ValuesPage(NamedTuple):
    """A page of stored values, the ETag of the data sheet it is (if it is one), and the
    cursor of the next pull."""

    found: tuple[list[DataValuePublic], int]
    etag: ETag | None
    cursor: Cursor


def list_values(
    session: Session,
    page: PageParams,
    *,
    agency: str | None = None,
    year: int | None = None,
    quarter: int | None = None,
    unit: str | None = None,
    variable: str | None = None,
    updated_since: dt.datetime | None = None,
    cursor: Cursor | None = None,
) -> ValuesPage:
    """Stored values, filtered, by agency, variable code, year and quarter; filtered to one
    year and quarter of an agency (named, or the only one), the ETag of that data sheet; and
    the cursor to resume from (taken before anything is read)."""
    resume = changes.current(session)
    etag = None
    if year is not None and quarter is not None:
        sheet_agency = find_agency(session, agency)
        if sheet_agency is not None:
            etag = sheet_etag(session, sheet_agency, year, quarter)
    query = (
        select(DataValue)
        .join(Variable, Variable.id == DataValue.variable_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Variable.agency_id)  # type: ignore[arg-type]
        .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
    )
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(DataValue.year == year)
    if quarter is not None:
        query = query.where(DataValue.quarter == quarter)
    if unit:
        query = query.where(Unit.code == unit)
    if variable:
        query = query.where(Variable.code == variable)
    if updated_since is not None:
        query = query.where(DataValue.updated_at > updated_since)
    if cursor is not None:
        query = query.where(col(DataValue.id).in_(changes.changed_values(session, cursor)))
    order = (Agency.code, Variable.code, DataValue.year, DataValue.quarter)
    rows, total = paginate(session, query, page, *order)
    labels = {
        variable_id: (code, agency_code, unit_code)
        for variable_id, code, agency_code, unit_code in session.exec(
            select(Variable.id, Variable.code, Agency.code, Unit.code)
            .join(Agency, Agency.id == Variable.agency_id)  # type: ignore[arg-type]
            .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
            .where(col(Variable.id).in_({r.variable_id for r in rows}))
        )
    }
    return ValuesPage(([_view(row, *labels[row.variable_id]) for row in rows], total), etag, resume)


def realization_history(
    session: Session, indicator_id: int, year: int, quarter: int
) -> list[ValueChange]:
    """Every value the indicator's variables had for the quarter, oldest first: who set it,
    when, in which request and in which workflow state of its unit's quarter."""
    _indicator, scope, _codes, keys = _indicator_quarter(session, indicator_id, year, quarter)
    stored = existing_values(session, keys)
    by_value_id = {
        row.id: scope.variables_by_id[row.variable_id]
        for row in stored.values()
        if row.id is not None
    }
    units = {ident: unit.code for ident, unit in scope.units.items()}
    return _history(session, by_value_id, units, year, quarter)


def _history(
    session: Session,
    by_value_id: Mapping[int, Variable],
    unit_codes: Mapping[int, str],
    year: int,
    quarter: int,
) -> list[ValueChange]:
    """The changes of these stored values of one quarter (value id -> its variable), oldest
    first, each with the workflow state its unit's quarter had then; in three queries."""
    events = queries.events_of(session, "data_value", by_value_id)
    owners = {v.owner_unit_id for v in by_value_id.values()}
    periods = {p.id: p.unit_id for p in queries.periods(session, owners, year, [quarter]).values()}
    steps = iter(queries.events_of(session, "period", (i for i in periods if i is not None)))
    step = next(steps, None)
    states: dict[int, str] = {}  # unit id -> the state its quarter had, as of the event
    history = []
    replayed: dict[str, dict[str, Any]] = {}  # each value's fields as of the event
    for event in events:
        # Both lists are in the order of the audit trail: take the steps before the event.
        while step is not None and (step.id or 0) < (event.id or 0):
            if step.after and "state" in step.after:
                states[periods[int(step.entity_id)]] = step.after["state"]
            step = next(steps, None)
        variable = by_value_id[int(event.entity_id)]
        current = replayed.setdefault(event.entity_id, {})
        previous = current.get("value")
        current.update(event.after or {})  # an update carries only what changed
        history.append(
            ValueChange(
                variable=variable.code,
                owner_unit=unit_codes[variable.owner_unit_id],
                value=current.get("value"),
                previous=previous,
                note=current.get("note"),
                evidence=current.get("evidence"),
                version=current.get("version"),
                at=event.at,
                actor=event.actor,
                actor_role=event.actor_role,
                action=event.action,
                request_id=event.request_id,
                period_state=states.get(variable.owner_unit_id, PeriodState.open.value),
            )
        )
    return history


@dataclass(frozen=True)
class UnitValue:
    """A variable a unit owns, with its value of a quarter, its value of the quarter before
    (None in the first quarter, or when none was stored) and the history of the quarter's
    value, oldest first."""

    variable: Variable
    value: DataValue | None
    previous: DataValue | None
    history: list[ValueChange]


def unit_quarter_values(session: Session, unit: Unit, year: int, quarter: int) -> list[UnitValue]:
    """Every variable the unit owns (in the order they were defined) with its value of the
    quarter, of the quarter before in the same year, and the history of the quarter's
    value: in five queries, whatever the number of variables."""
    variables = session.exec(
        select(Variable).where(Variable.owner_unit_id == unit.id).order_by(col(Variable.id))
    ).all()
    rows = session.exec(
        select(DataValue).where(
            col(DataValue.variable_id).in_([v.id for v in variables]),
            DataValue.year == year,
            col(DataValue.quarter).in_([quarter, quarter - 1] if quarter > 1 else [quarter]),
        )
    ).all()
    stored = {(r.variable_id, r.quarter): r for r in rows}
    by_id = {v.id: v for v in variables}
    by_value_id = {
        r.id: by_id[r.variable_id] for r in rows if r.quarter == quarter and r.id is not None
    }
    changes_of: dict[str, list[ValueChange]] = {}
    for change in _history(session, by_value_id, {unit.id or 0: unit.code}, year, quarter):
        changes_of.setdefault(change.variable, []).append(change)
    return [
        UnitValue(
            v,
            stored.get((v.id or 0, quarter)),
            stored.get((v.id or 0, quarter - 1)) if quarter > 1 else None,
            changes_of.get(v.code, []),
        )
        for v in variables
    ]
