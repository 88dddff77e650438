"""The audit trail: every change of a row, recorded in the transaction that makes it.

Services do not write audit events themselves: every flush of a session appends one event per
row created, changed or deleted (with the values before and after), so no write path can
forget it and a rolled-back change leaves no event. Who acts and in which request is put on
the session by the request's unit of work (`acting`), by the CLI and by the seed; a service
names a use case that is more than a plain change (`submit`, `import` ...) with `action`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Mapper, UOWTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.models import AuditEvent
from app.schemas.audit import AuditEventPublic
from app.schemas.common import PageParams
from app.services.common import paginate
from app.services.queries import events_condition

NOT_AUDITED = frozenset(
    {"audit_event", "seed_load", "sealed_figure", "person_session", "webhook_event"}
)
"""Not audited: the trail itself, the seed's bookkeeping, the sealed figures and the
webhook events, which an audited step (verify, reopen ...) derives in its transaction (its
deliveries are audited), and people's sessions (a sign-in is no change of the data)."""
SECRET_COLUMNS = frozenset(
    {
        "secret_hash",
        "password_hash",
        "token_hash",
        "secret_encrypted",
        "previous_secret_encrypted",
    }
)
"""Columns left out of every event's before and after: hashes and webhook secrets (which a
key other than the database's own would decrypt, but no reader of the trail needs)."""
BOOKKEEPING_COLUMNS = frozenset({"data_revision"})
"""Columns no change of the data is in: an agency's revision, which every change of its data
moves (app/services/revisions.py)."""
_UNRECORDED = SECRET_COLUMNS | BOOKKEEPING_COLUMNS

ACTOR, ACTOR_ID, ROLE = "audit_actor", "audit_actor_id", "audit_role"
REQUEST_ID, ACTION = "audit_request_id", "audit_action"


def act_as(
    session: Session,
    actor: str | None,
    role: str | None,
    request_id: str | None,
    actor_id: str | None = None,
) -> None:
    """Record the session's changes as made by `actor` (a key's name, `cli`, `seed`), whose
    identity is `actor_id` (a principal's `identity`, e.g. `key:12`; none for the CLI)."""
    session.info.update({ACTOR: actor, ACTOR_ID: actor_id, ROLE: role, REQUEST_ID: request_id})


@contextmanager
def action(session: Session, name: str) -> Iterator[None]:
    """Name the use case of the changes flushed inside the block (else create, update,
    delete)."""
    outer = session.info.get(ACTION)
    session.info[ACTION] = name
    try:
        session.flush()  # what was pending before the block is not part of it
        yield
        session.flush()
    finally:
        session.info[ACTION] = outer


@cache
def _audited_keys(mapper: Mapper[Any]) -> tuple[list[str], list[str]]:
    """The column attributes of a mapped class, and those of them whose values are recorded."""
    keys = [attr.key for attr in mapper.column_attrs]
    return keys, [key for key in keys if key not in _UNRECORDED]


def _row_values(obj: Any, keys: Sequence[str]) -> dict[str, Any]:
    return to_jsonable_python({key: getattr(obj, key) for key in keys})


def _entity_id(mapper: Mapper[Any], obj: Any) -> str:
    # New rows have their keys after the flush, but not yet an identity in the session.
    key = mapper.primary_key_from_instance(obj)
    return ":".join(str(part) for part in key)


def _events(session: OrmSession) -> list[dict[str, Any]]:
    info = session.info
    now = utcnow()
    common = {
        "at": now,
        "actor": info.get(ACTOR),
        "actor_id": info.get(ACTOR_ID),
        "actor_role": info.get(ROLE),
        "request_id": info.get(REQUEST_ID),
    }
    named = info.get(ACTION)
    events = []
    for kind, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is None or table in NOT_AUDITED:
                continue
            state = inspect(obj)
            keys, recorded = _audited_keys(state.mapper)
            before: dict[str, Any] | None = None
            after: dict[str, Any] | None = None
            if kind == "create":
                after = _row_values(obj, recorded)
            elif kind == "delete":
                before = _row_values(obj, recorded)
            else:
                changed = [k for k in keys if state.attrs[k].history.has_changes()]
                if not changed:
                    continue
                before, after = {}, {}
                for key in changed:
                    if key in _UNRECORDED:
                        continue
                    history = state.attrs[key].history
                    old = history.deleted[0] if history.deleted else None
                    before[key] = to_jsonable_python(old)
                    after[key] = to_jsonable_python(getattr(obj, key))
            events.append(
                common
                | {
                    "action": named or kind,
                    "entity": table,
                    "entity_id": _entity_id(state.mapper, obj),
                    "before": before,
                    "after": after,
                }
            )
    return events


@event.listens_for(OrmSession, "after_flush")
def _record(session: OrmSession, _: UOWTransaction) -> None:
    # After the flush the rows have their ids, and the values before it are still known.
    events = _events(session)
    if events:
        session.connection().execute(insert(AuditEvent), events)


# Reading the trail ---------------------------------------------------------------------------


def list_events(
    session: Session,
    page: PageParams,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action_name: str | None = None,
    request_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[AuditEventPublic], int]:
    """Events matching the filters, newest first."""
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.entity, entity),
        (AuditEvent.entity_id, entity_id),
        (AuditEvent.actor, actor),
        (AuditEvent.action, action_name),
        (AuditEvent.request_id, request_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    rows, total = paginate(session, query, page, col(AuditEvent.id).desc())
    return [AuditEventPublic.model_validate(row) for row in rows], total


def latest_events_of(
    session: Session, records: Mapping[str, Iterable[int | None]], limit: int
) -> tuple[list[AuditEventPublic], int]:
    """The newest `limit` events of these records (ids by kind), newest first, and how many
    there are in all: one query for the page, one for the count, however many records."""
    condition = events_condition(records)
    if condition is None:
        return [], 0
    query = select(AuditEvent).where(condition)
    rows, total = paginate(session, query, PageParams(limit=limit), col(AuditEvent.id).desc())
    return [AuditEventPublic.model_validate(row) for row in rows], total
