"""Figures remembered by the revision of the data they were computed from.

An agency's achievements are a pure function of its own rows (its units, positions,
decrees, objectives, indicators, variables, values, targets, rules and workflow states, and
the agency itself) and of the rating scales. Every flush that changes one of those rows gives
the agency a new revision (`agency.data_revision`), in the flush's transaction, whichever
write path made it: as the audit trail is recorded, no write path can forget it. A revision
is a random 62-bit number, so it never comes back: not after a rollback (the old revision
comes back with the old rows), not on a database built again.

A figure computed at revision r is remembered under r (`Memo`), in the process. A reader
reads the revision before the rows it computes from: the rows are as new as r or newer, so
what is remembered under r is never older than r. A writer's transaction changes the revision
at its first flush; its commit makes the new rows and the new revision visible together. On
PostgreSQL the agency's row is locked from that flush to the commit: the writers of an agency
follow one another, as those that lock it first (`lock_agency_data`) always did, and there is
still one lock per agency, so no two writers wait for each other crosswise. Nothing is shared
between processes: each replica remembers what it computed, and no replica serves a figure of
a revision that is no longer current.

Rows changed under the service (SQL written by hand) change no revision: `iki forget` gives
every agency a new one, and the seal check (`iki seals check`) never reads remembered
figures.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Hashable
from typing import Any, Final

from cachetools import LRUCache
from sqlalchemy import bindparam, event, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import Pool
from sqlmodel import Session, SQLModel, col

from app.core.config import get_settings
from app.models import Agency, Decree, Indicator, Unit, Variable

AGENCY_COLUMN: Final = {
    "agency": "id",
    "unit": "agency_id",
    "position": "agency_id",
    "decree": "agency_id",
    "variable": "agency_id",
    "quality_rule": "agency_id",
    "period": "agency_id",
}
"""Tables whose rows name their agency: the column that does."""
THROUGH: Final = {
    "objective": ("decree_id", "decree"),
    "indicator": ("decree_id", "decree"),
    "data_value": ("variable_id", "variable"),
    "indicator_source_unit": ("unit_id", "unit"),
    "target": ("indicator_id", "indicator"),
    "sealed_figure": ("indicator_id", "indicator"),
}
"""Tables whose rows reach their agency through a parent: (column, parent table), in an order
where a parent's table comes before its children's."""
EVERY_AGENCY: Final = frozenset({"rating_scale"})
"""Tables a change of which may move any agency's figures (a scale is shared)."""
UNRELATED: Final = frozenset(
    {
        "api_key",
        "api_key_unit",
        "audit_event",
        "person",
        "person_session",
        "person_unit",
        "seed_load",
        "webhook_delivery",
        "webhook_event",
        "webhook_subscription",
    }
)
"""Tables no figure is computed from. A table in none of these four sets moves every agency's
revision, so a new table is safe until it is placed (a test lists them all)."""

_IDS: Any = bindparam("ids", expanding=True)
_PARENTS: Final[dict[str, tuple[type[SQLModel], Any]]] = {
    "decree": (
        Decree,
        sa_select(col(Decree.id), col(Decree.agency_id)).where(col(Decree.id).in_(_IDS)),
    ),
    "variable": (
        Variable,
        sa_select(col(Variable.id), col(Variable.agency_id)).where(col(Variable.id).in_(_IDS)),
    ),
    "unit": (Unit, sa_select(col(Unit.id), col(Unit.agency_id)).where(col(Unit.id).in_(_IDS))),
    "indicator": (
        Indicator,
        sa_select(col(Indicator.id), col(Decree.agency_id))
        .join(Decree, col(Decree.id) == col(Indicator.decree_id))
        .where(col(Indicator.id).in_(_IDS)),
    ),
}
"""Each parent table: its model, and the statement of the agencies of some of its rows."""


class _Every:
    """Every agency (a shared row changed, or a row whose agency could not be found)."""


EVERY: Final = _Every()


def new_revision() -> int:
    return secrets.randbits(62)


def touched_agencies(session: OrmSession) -> set[int] | _Every:
    """The agencies whose figures the rows of this flush may move (`EVERY`: all of them)."""
    by_table: dict[str, list[Any]] = {}
    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is None or table in UNRELATED:
                continue
            if table in EVERY_AGENCY or (table not in AGENCY_COLUMN and table not in THROUGH):
                return EVERY
            by_table.setdefault(table, []).append(obj)
    if not by_table:
        return set()
    agencies: set[int] = set()
    known: dict[tuple[str, int], int] = {}  # (table, id) -> agency id, from this flush
    for table, column in AGENCY_COLUMN.items():
        for obj in by_table.get(table, ()):
            agency_id = getattr(obj, column)
            if agency_id is None:
                return EVERY
            agencies.add(agency_id)
            if obj.id is not None:
                known[(table, obj.id)] = agency_id
    for table, (column, parent) in THROUGH.items():
        rows = by_table.get(table, ())
        if not rows:
            continue
        parents = {getattr(obj, column) for obj in rows}
        found = _agencies_of(session, parent, parents, known)
        if len(found) < len(parents):
            return EVERY  # a parent gone with its agency: be safe
        agencies.update(found.values())
        for obj in rows:
            ident = getattr(obj, "id", None)
            if ident is not None:
                known[(table, ident)] = found[getattr(obj, column)]
    return agencies


def _agencies_of(
    session: OrmSession, parent: str, ids: set[Any], known: dict[tuple[str, int], int]
) -> dict[Any, int]:
    """The agency of each of these rows of `parent`: from this flush, the session's identity
    map, else one query."""
    found: dict[Any, int] = {}
    model, statement = _PARENTS[parent]
    for ident in ids:
        if ident is None:
            continue
        if (parent, ident) in known:
            found[ident] = known[(parent, ident)]
            continue
        loaded = session.identity_map.get(identity_key(model, ident))
        if loaded is not None and parent != "indicator":
            found[ident] = getattr(loaded, "agency_id")  # noqa: B009  (any parent model)
    rest = [ident for ident in ids if ident is not None and ident not in found]
    if rest:
        rows = session.connection().execute(statement, {"ids": rest}).all()
        found.update((ident, agency_id) for ident, agency_id in rows)
    return found


_REVISE = (
    update(Agency)
    .where(col(Agency.id) == bindparam("ident"))
    .values(data_revision=bindparam("revision"))
)


# Every agency, its row locked in the order of the ids first (on PostgreSQL; SQLite writers
# hold the database's lock), as any writer of several agencies locks them.
_EVERY_AGENCY = update(Agency).where(
    col(Agency.id).in_(sa_select(col(Agency.id)).order_by(col(Agency.id)).with_for_update())
)


def revise(session: OrmSession, agencies: set[int] | _Every) -> int:
    """Give these agencies a new revision (in the session's transaction); how many."""
    revision = new_revision()
    if isinstance(agencies, _Every):
        done = session.connection().execute(_EVERY_AGENCY.values(data_revision=revision))
        return done.rowcount
    if agencies:
        # In the order of their ids: two writers of several agencies lock them in one order.
        rows = [{"ident": ident, "revision": revision} for ident in sorted(agencies)]
        session.connection().execute(_REVISE, rows)
    return len(agencies)


@event.listens_for(OrmSession, "after_flush")
def _revise(session: OrmSession, _: UOWTransaction) -> None:
    revise(session, touched_agencies(session))


def forget(session: Session) -> int:
    """Give every agency a new revision (after rows were changed under the service): no
    figure remembered before is served again. How many agencies were revised."""
    return revise(session, EVERY)


# The memo -------------------------------------------------------------------------------------


class Memo:
    """Values remembered by key, the least recently used forgotten past `size`; safe across
    the threads of a process."""

    def __init__(self, size: int) -> None:
        self._values: LRUCache[Hashable, Any] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._values.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def __len__(self) -> int:
        return len(self._values)


_MEMOS: weakref.WeakKeyDictionary[Pool, Memo] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def memo_of(session: Session) -> Memo | None:
    """The memo of the session's database (None: remembering is off, FIGURE_MEMO_SIZE 0)."""
    size = get_settings().figure_memo_size
    if size <= 0:
        return None
    pool = session.get_bind().engine.pool
    with _MEMOS_LOCK:
        memo = _MEMOS.get(pool)
        if memo is None:
            memo = _MEMOS[pool] = Memo(size)
        return memo
