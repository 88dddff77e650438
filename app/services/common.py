"""What every service uses: paging, lookups by id, the one-agency rule, savepoints, the batch
writer of new rows and the refusals that name what still refers to a row."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Executable, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InUse, InvalidInput, NotFound
from app.models import Agency, Position, Unit, Variable
from app.schemas.common import PageParams

M = TypeVar("M", bound=SQLModel)
D = TypeVar("D", bound=SQLModel)  # what a new row is made from: an `XCreate`
R = TypeVar("R")  # what a select gives: a model, or one column

NAMES_SHOWN = 5


def paginate(
    session: Session, query: SelectOfScalar[R], page: PageParams, *order: Any
) -> tuple[list[R], int]:
    """One page of `query` in `order`, and the total count of its rows."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = list(session.exec(query.order_by(*order).limit(page.limit).offset(page.offset)))
    return rows, total


def get_or_404(session: Session, model: type[M], ident: int, label: str) -> M:
    """The row of `model` with this id, or a 404 naming what was looked for."""
    row = session.get(model, ident)
    if row is None:
        raise not_found(label, ident)
    return row


def not_found(label: str, ident: int) -> NotFound:
    """The 404 of a row looked for by id."""
    return NotFound(f"{label} {ident} does not exist")


def by_id(session: Session, model: type[M], ids: set[int]) -> dict[int, M]:
    """Rows of `model` by id, in one query."""
    if not ids:
        return {}
    rows = session.exec(select(model).where(col(model.id).in_(ids)))  # type: ignore[attr-defined]
    return {row.id: row for row in rows}  # type: ignore[attr-defined]


def id_of(row: SQLModel) -> int:
    """The id of a flushed row."""
    ident = getattr(row, "id", None)
    assert ident is not None, "a flushed row has an id"
    return int(ident)


def is_text(value: str) -> bool:
    """Whether a string can be stored and sent back (JSON may carry lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def quote(text: str, limit: int = 100) -> str:
    """At most a short prefix of what a client sent, to quote it back in an answer."""
    return text if len(text) <= limit else f"{text[:limit]}..."


def find_agency(session: Session, code: str | None) -> Agency | None:
    """The agency a request means: the one with this code, or, without a code, the only
    agency when the service holds exactly one; else None."""
    if code is not None:
        if not is_text(code):
            return None
        return session.exec(select(Agency).where(Agency.code == code)).first()
    agencies = session.exec(select(Agency).limit(2)).all()
    return agencies[0] if len(agencies) == 1 else None


def resolve_agency(session: Session, code: str | None, field: str = "agency") -> Agency:
    """The agency a request means (see `find_agency`), or a 422 saying why there is none."""
    agency = find_agency(session, code)
    if agency is not None:
        return agency
    if code is not None:
        raise InvalidInput(f"Unknown agency {code!r}", field=field)
    held = (
        "several agencies" if session.exec(select(Agency.id).limit(1)).first() else "no agency yet"
    )
    raise InvalidInput(f"Name the agency (its code): the service holds {held}", field=field)


# Writing -------------------------------------------------------------------------------------


@contextmanager
def savepoint(session: Session, error: AppError) -> Iterator[None]:
    """Write in a savepoint; a constraint that the checks did not foresee (a concurrent
    request) undoes the savepoint and becomes `error` instead of a 500."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise error from exc


def insert_in_order(
    session: Session, rows: Sequence[tuple[SQLModel, SQLModel | None]], reference: str | None
) -> None:
    """Insert new rows in the order given, each with `reference` set to the id of the row
    paired with it (an earlier one of `rows`, or one that exists): a flush holds no row and
    the row it refers to, whose id is known only after the flush."""
    unflushed: set[int] = set()
    for row, referred in rows:
        if referred is not None:
            assert reference is not None, "a referred row needs the column that refers to it"
            if id(referred) in unflushed:
                session.flush()
                unflushed.clear()
            setattr(row, reference, id_of(referred))
        session.add(row)
        unflushed.add(id(row))
    session.flush()


def core_rows(session: Session, statement: Executable, **parameters: Any) -> Sequence[Any]:
    """The rows of a select of columns, read by the Core (no ORM loading: pulls read tens of
    thousands of rows) and fetched all at once (iterating fetches them one by one). The Core
    does not flush the session: callers read after their writes are flushed."""
    return session.connection().execute(statement, parameters).all()


TableRow = TypeVar("TableRow", bound=SQLModel)


def new_row(model: type[TableRow], data: SQLModel, **values: Any) -> TableRow:
    """A new row of `model` from a body its API model has validated (`XCreate`), with
    `values` (the ids of what it belongs to), made by the table model's constructor, which
    does not validate again, and stamped created and updated now: validating our own data a
    second time, and each timestamp's default factory, cost more than the rest of a seeded
    row."""
    fields = model.model_fields
    now = utcnow()
    stamps = {name: now for name in ("created_at", "updated_at") if name in fields}
    return model(**data.model_dump(include=set(fields)), **stamps, **values)


class NewRows(ABC, Generic[D, M]):
    """New rows of one kind under one parent (an agency's units, a decree's indicators): each
    checked as it is added, all inserted by `write` in one savepoint, with a fixed number of
    queries whatever their count. A kind says how a row is checked and made (`check`) and
    what a clash of natural keys with a concurrent writer is (`conflict`)."""

    reference: ClassVar[str | None] = None
    """The column that names an earlier or existing row of the same kind (a superior, a
    parent): new rows are inserted in order, so that it can be set."""

    def __init__(self, session: Session, existing: Mapping[Any, SQLModel | None]) -> None:
        self.session = session
        self.known: dict[Hashable, SQLModel | None] = dict(existing)
        """The rows by natural key: the parent's that exist (or None), and those added."""
        self.pending: list[tuple[Hashable, M, SQLModel | None]] = []

    @abstractmethod
    def check(self, data: D) -> tuple[Hashable, M, SQLModel | None]:
        """Check new `data` (calling `claim` with its key where its rules put it); its key,
        the row to insert and the row its `reference` names (or None)."""

    @abstractmethod
    def conflict(self, keys: Sequence[Hashable]) -> AppError:
        """The refusal of new rows with these keys, one of which a row has (or took meanwhile)."""

    def claim(self, key: Hashable) -> None:
        """Refuse a key that a row has, or that a row added before has."""
        if key in self.known:
            raise self.conflict([key])

    def add(self, data: D) -> M:
        """Check a new row; the row that `write` will insert."""
        key, row, referred = self.check(data)
        self.known[key] = row
        self.pending.append((key, row, referred))
        return row

    def write(self) -> list[M]:
        """Insert the rows added since the last write; the flushed rows."""
        pending, self.pending = self.pending, []
        rows = [row for _, row, _ in pending]
        with savepoint(self.session, self.conflict([key for key, _, _ in pending])):
            insert_in_order(
                self.session, [(row, referred) for _, row, referred in pending], self.reference
            )
            self.inserted(rows)
        return rows

    def inserted(self, rows: Sequence[M]) -> None:
        """Write what goes with the flushed `rows` (their links), in the same savepoint."""


def apply_changes(
    session: Session, row: SQLModel, changes: Mapping[str, Any], error: AppError
) -> None:
    """Set `changes` on `row` (and its updated_at) and flush them."""
    if not changes:
        return
    with savepoint(session, error):
        for name, value in changes.items():
            setattr(row, name, value)
        setattr(row, "updated_at", utcnow())  # noqa: B010 - every definition table has one
        session.add(row)


def delete_rows(session: Session, rows: Iterable[SQLModel], label: str) -> None:
    """Delete `rows` in the order given (referring rows first)."""
    with savepoint(session, InUse(f"{label} is still referred to by other records")):
        for row in rows:
            # Without ORM relationships the unit of work does not order deletes by foreign key.
            session.delete(row)
            session.flush()


def exists(session: Session, query: Any) -> bool:
    """Whether `query` matches any row."""
    return session.exec(query.limit(1)).first() is not None


def codes_of(session: Session, column: Any, *where: Any) -> list[str]:
    """The values of `column` (a code or name) of the rows matching `where`, sorted."""
    return list(session.exec(select(column).where(*where).order_by(column)))


def names(items: Sequence[str]) -> str:
    """The first few of `items`, and how many more there are."""
    shown = ", ".join(items[:NAMES_SHOWN])
    more = len(items) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def target_label(indicator_code: str, year: int, quarter: int) -> str:
    """A target as a refusal names it: `KADIS.1.1 2025 Q2`, or `annual`."""
    return f"{indicator_code} {year} {f'Q{quarter}' if quarter else 'annual'}"


def refuse_if_referred(label: str, references: Mapping[str, Sequence[str]]) -> None:
    """Raise InUse naming what still refers to `label`, if anything does."""
    used = {kind: list(found) for kind, found in references.items() if found}
    if not used:
        return
    parts = "; ".join(f"{kind} ({len(found)}): {names(found)}" for kind, found in used.items())
    raise InUse(
        f"{label} is still referred to by {parts}. Delete or change those first.",
        references={kind: len(found) for kind, found in used.items()},
    )


# Units, positions and variables: a code unique in its agency.
AgencyScoped = type[Unit] | type[Position] | type[Variable]


class NewOfAgency(NewRows[D, M]):
    """New units, positions or variables of an agency, known by their codes."""

    model: ClassVar[AgencyScoped]

    def __init__(
        self,
        session: Session,
        agency: Agency,
        existing: Mapping[Any, SQLModel | None] | None = None,
    ) -> None:
        if existing is None:
            model = self.model
            codes = session.exec(select(model.code).where(model.agency_id == agency.id))
            existing = dict.fromkeys(codes)
        super().__init__(session, existing)
        self.agency = agency

    def conflict(self, keys: Sequence[Hashable]) -> AppError:
        return codes_conflict(self.model, self.agency, [str(key) for key in keys])


def code_conflict(model: AgencyScoped, agency: Agency, code: str) -> Conflict:
    """The problem of a code that another row of `model` in the agency has."""
    kind = model.__name__.lower()
    return Conflict(f"Agency {agency.code} already has a {kind} '{code}'", field="code")


def codes_conflict(model: AgencyScoped, agency: Agency, codes: Sequence[str]) -> Conflict:
    """The problem of new rows of `model` in the agency, one of whose codes another row has
    taken meanwhile."""
    if len(codes) == 1:
        return code_conflict(model, agency, codes[0])
    kind = model.__name__.lower()
    return Conflict(
        f"Agency {agency.code} already has a {kind} with one of the codes {names(codes)}",
        field="code",
    )


def refuse_taken_code(
    session: Session, model: AgencyScoped, agency: Agency, code: str, row_id: int | None = None
) -> None:
    """409 if another row of `model` in the agency has `code`."""
    query = select(model.id).where(model.agency_id == agency.id, model.code == code)
    if row_id is not None:
        query = query.where(model.id != row_id)
    if exists(session, query):
        raise code_conflict(model, agency, code)


def agency_of(session: Session, agency_id: int) -> Agency:
    """The agency a row refers to (it exists: a foreign key says so)."""
    agency = session.get(Agency, agency_id)
    assert agency is not None, "rows refer to existing agencies"
    return agency


def units_by_code(session: Session, agency: Agency, codes: Sequence[str], field: str) -> list[Unit]:
    """The units of `agency` with these codes, in the order given, each once (422 naming the
    unknown ones)."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    found = {
        u.code: u
        for u in session.exec(
            select(Unit).where(Unit.agency_id == agency.id, col(Unit.code).in_(wanted))
        )
    }
    return pick_units(found, agency, wanted, field)


def agency_units(session: Session, agency: Agency) -> dict[str, Unit]:
    """The agency's units, by code."""
    return {u.code: u for u in session.exec(select(Unit).where(Unit.agency_id == agency.id))}


def agency_positions(session: Session, agency_id: int) -> dict[str, Position]:
    """The agency's positions, by code."""
    return {
        p.code: p for p in session.exec(select(Position).where(Position.agency_id == agency_id))
    }


def pick_units(
    found: Mapping[str, Unit], agency: Agency, codes: Sequence[str], field: str
) -> list[Unit]:
    """The units of `found` (the agency's, by code) with these codes, as `units_by_code`
    answers them."""
    wanted = list(dict.fromkeys(codes))
    missing = [code for code in wanted if code not in found]
    if missing:
        raise InvalidInput(
            f"Unknown unit {names(missing)} in agency {agency.code}", field=field, units=missing
        )
    return [found[code] for code in wanted]


def unit_of_path(session: Session, agency: Agency, code: str, field: str = "unit") -> Unit:
    """The agency's unit that a route's path names by code: 404 `not_found` when there is
    none. (A unit named in a body is invalid input, 422; a `unit` filter only filters.)"""
    unit = session.exec(select(Unit).where(Unit.agency_id == agency.id, Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"Unit {quote(code)!r} does not exist in agency {agency.code}", field=field)
    return unit


def unit_id(session: Session, agency: Agency, code: str, field: str) -> int:
    """The id of the agency's unit with this code (422 if there is none)."""
    return id_of(units_by_code(session, agency, [code], field)[0])


def position_by_code(session: Session, agency: Agency, code: str, field: str) -> Position:
    """The agency's position with this code (422 if there is none)."""
    position = session.exec(
        select(Position).where(Position.agency_id == agency.id, Position.code == code)
    ).first()
    return pick_position(position, agency, code, field)


def pick_position(position: Position | None, agency: Agency, code: str, field: str) -> Position:
    """`position`, found by `code` among the agency's, or the 422 of `position_by_code`."""
    if position is None:
        raise InvalidInput(f"Unknown position '{code}' in agency {agency.code}", field=field)
    return position


def reaches(links: Mapping[int | None, int | None], start: int, target: int) -> bool:
    """Whether following `links` (child -> parent) from `start` arrives at `target`."""
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = links.get(current)
    return False


def closes_loop(
    session: Session, model: type[SQLModel], link: Any, scope: Any, start: int, row: SQLModel
) -> bool:
    """Whether `row` referring to `start` through the column `link` (a superior, a parent)
    would close a loop among the rows of `model` matching `scope`."""
    links = dict(session.exec(select(model.id, link).where(scope)).all())  # type: ignore[attr-defined]
    return reaches(links, start, id_of(row))


def lock_agency_data(session: Session, agency: Agency) -> None:
    """Serialise the writers of an agency's data until the transaction ends.

    On PostgreSQL the agency's row is locked: a value that does not exist yet has no row of
    its own to lock, and an ETag covers several values, so a writer must hold the agency
    from before it compares an If-Match to after it writes. SQLite writers already hold the
    database's write lock (BEGIN IMMEDIATE)."""
    lock_agencies(session, [id_of(agency)])


def lock_agencies(
    session: Session, agency_ids: Iterable[int], *, unit_ids: Iterable[int] | None = None
) -> None:
    """`lock_agency_data` for several agencies (and the agencies of `unit_ids`), locked in
    the order of their ids so that two writers never wait for each other crosswise."""
    if session.get_bind().dialect.name == "sqlite":
        return
    wanted: ColumnElement[bool] = col(Agency.id).in_(set(agency_ids))
    if unit_ids is not None:
        owners = select(Unit.agency_id).where(col(Unit.id).in_(set(unit_ids)))
        wanted = wanted | col(Agency.id).in_(owners)
    session.exec(select(Agency.id).where(wanted).order_by(col(Agency.id)).with_for_update()).all()


BULK_ROWS = 2_000
"""Rows written by one load past which its tables' statistics are refreshed (`analyze`)."""


def analyze(session: Session, tables: Iterable[str]) -> list[str]:
    """Refresh PostgreSQL's statistics of tables a bulk load just filled (`ANALYZE`), in the
    load's transaction; the tables analysed. Until autovacuum comes round, the planner would
    otherwise plan with the statistics of the empty tables: a pull then scans every value of
    the year once per page. Only tables of the models are analysed (a name is never taken from
    input). SQLite keeps no statistics unless asked, and its plans do not need them."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    known = sorted(set(tables) & set(SQLModel.metadata.tables))
    for table in known:
        session.exec(text(f'ANALYZE "{table}"'))  # type: ignore[call-overload]
    return known
