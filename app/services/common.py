"""What every service uses: paging, lookups by id, the one-agency rule, savepoints and the
refusals that name what still refers to a row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.db import utcnow
from app.core.errors import AppError, InUse, InvalidInput, NotFound
from app.models import Agency
from app.schemas.common import PageParams

M = TypeVar("M", bound=SQLModel)

NAMES_SHOWN = 5


def paginate(
    session: Session, query: SelectOfScalar[M], page: PageParams, *order: Any
) -> tuple[list[M], int]:
    """One page of `query` in `order`, and the total count of its rows."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = list(session.exec(query.order_by(*order).limit(page.limit).offset(page.offset)))
    return rows, total


def get_or_404(session: Session, model: type[M], ident: int, label: str) -> M:
    """The row of `model` with this id, or a 404 naming what was looked for."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{label} {ident} does not exist")
    return row


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
