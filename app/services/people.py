"""People: accounts (create, list, disable, change a password), sign-in and sessions.

A password is hashed with argon2 (pwdlib). A session is a random token in an HttpOnly cookie;
only its SHA-256 is stored, so a copy of the database opens no session. A session ends at
sign-out, when its person is disabled, after SESSION_IDLE_MINUTES without a request and
SESSION_MAX_HOURS after the sign-in.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from pwdlib import PasswordHash
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import (
    Principal,
    PrincipalKind,
    hash_secret,
    principal_name,
    resolve_principal,
)
from app.models import Person, PersonSession, PersonUnit, Role
from app.services.keys import scope_units, unit_codes_by_holder

MIN_PASSWORD = 10
MAX_PASSWORD = 200


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id


# What an unknown name's password is checked against, so that it is refused after the same
# work as a wrong password (argon2id with pwdlib's recommended parameters, as the stored
# hashes; of a throwaway value, no person's).
DECOY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$8FhwjJzP/S9WreozT0zlGg$"
    "HR4NpcUgwwNqf2Xw/T6/XCKfJcOjLzEpGye5x9/G518"
)


def generate_password() -> str:
    """A one-time password to hand over (about 96 bits), changed at the first sign-in."""
    return secrets.token_urlsafe(12)


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long to be a chosen one."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"A password has at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"A password has at most {MAX_PASSWORD} characters", field="password")


def create_person(
    session: Session,
    name: str,
    role: Role,
    password: str,
    unit_codes: Sequence[str] = (),
    agency_code: str | None = None,
) -> Person:
    """A new person, who must change `password` at the first sign-in. A role that only enters
    data (operator) must be scoped to at least one unit, as for keys."""
    name = principal_name(name)
    check_password(password)
    if session.exec(select(Person).where(Person.name == name)).first() is not None:
        raise Conflict(f"A person named '{name}' already exists")
    units = scope_units(session, role, unit_codes, agency_code, "person")
    person = Person(name=name, role=role, password_hash=_hasher().hash(password))
    session.add(person)
    session.flush()
    assert person.id is not None
    for unit in units:
        assert unit.id is not None
        session.add(PersonUnit(person_id=person.id, unit_id=unit.id))
    session.flush()
    return person


def list_people(session: Session) -> list[tuple[Person, list[str]]]:
    """Every person with the codes of their units."""
    people = list(session.exec(select(Person).order_by(col(Person.name))))
    scope = unit_codes_by_holder(session, col(PersonUnit.person_id), col(PersonUnit.unit_id))
    return [(person, scope.get(person.id or 0, [])) for person in people]


def disable_person(session: Session, name: str) -> Person:
    """Disable a person: they cannot sign in, and their open sessions end."""
    person = session.exec(select(Person).where(Person.name == principal_name(name))).first()
    if person is None:
        raise NotFound(f"No person named '{name}'")
    now = utcnow()
    if person.disabled_at is None:
        person.disabled_at = now
        session.add(person)
    session.exec(
        update(PersonSession)
        .where(col(PersonSession.person_id) == person.id, col(PersonSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    return person


def verify_password(session: Session, name: str, password: str) -> Person | None:
    """The enabled person of this name and password, or None: an unknown name, a disabled
    person and a wrong password all answer None, after the same work."""
    try:
        folded = principal_name(name)
    except InvalidInput:
        folded = None
    person = session.exec(select(Person).where(Person.name == folded)).first() if folded else None
    if person is None or len(password) > MAX_PASSWORD:
        _hasher().verify(password[:MAX_PASSWORD], DECOY_HASH)
        return None
    if not _hasher().verify(password, person.password_hash) or person.disabled_at is not None:
        return None
    return person


def new_password_hash(person: Person, current: str, new: str) -> str:
    """The hash of a person's new password, once the current one is given right and the new
    one is acceptable. No database work: the slow hashing holds no lock."""
    if not _hasher().verify(current, person.password_hash):
        raise InvalidInput("The current password is wrong", field="current")
    check_password(new)
    if new == current:
        raise InvalidInput("The new password must differ from the current one", field="new")
    return _hasher().hash(new)


def set_password(session: Session, person_id: int, password_hash: str) -> Person:
    """Store a person's new password (from `new_password_hash`); it clears the forced change
    of the first sign-in."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No such person")
    person.password_hash = password_hash
    person.must_change_password = False
    person.password_changed_at = utcnow()
    session.add(person)
    session.flush()
    return person


def start_session(session: Session, person: Person) -> str:
    """Open a session for `person`; the token for the cookie (not stored)."""
    assert person.id is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    max_age = timedelta(hours=get_settings().session_max_hours)
    session.add(
        PersonSession(
            person_id=person.id,
            token_hash=hash_secret(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + max_age,
        )
    )
    session.flush()
    return token


def end_session(session: Session, token: str) -> None:
    """End the session of this token (sign-out)."""
    session.exec(
        update(PersonSession)
        .where(
            col(PersonSession.token_hash) == hash_secret(token),
            col(PersonSession.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )
    session.flush()


@dataclass(frozen=True)
class SignedIn:
    """A live session: its person and the principal they act as."""

    person: Person
    principal: Principal


def resolve_session(session: Session, token: str) -> SignedIn | None:
    """The person of a live session token, or None: the session was ended, expired (idle or
    absolute), or its person is disabled (checked at every request)."""
    row = session.exec(
        select(PersonSession, Person)
        .join(Person, Person.id == PersonSession.person_id)  # type: ignore[arg-type]
        .where(PersonSession.token_hash == hash_secret(token))
    ).first()
    if row is None:
        return None
    live, person = row
    settings = get_settings()
    now = utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if (
        live.revoked_at is not None
        or person.disabled_at is not None
        or now >= live.expires_at
        or now - live.last_seen_at >= idle
    ):
        return None
    assert person.id is not None
    if now - live.last_seen_at >= timedelta(seconds=settings.session_last_seen_resolution_seconds):
        live.last_seen_at = now
        session.add(live)
        session.commit()
    principal = resolve_principal(
        session, PrincipalKind.person, person.id, person.name, person.role
    )
    return SignedIn(person, principal)
