"""API key management: create (the secret is returned once), list, revoke."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import generate_secret, hash_secret, principal_name
from app.models import Agency, ApiKey, ApiKeyUnit, Role, Unit


def resolve_units(
    session: Session, unit_codes: Sequence[str], agency_code: str | None
) -> list[Unit]:
    """The units named by code (within `agency_code` if given); every code must match one unit."""
    if not unit_codes:
        return []
    query = select(Unit).where(col(Unit.code).in_(unit_codes))
    if agency_code is not None:
        query = query.join(Agency, Agency.id == Unit.agency_id).where(  # type: ignore[arg-type]
            Agency.code == agency_code
        )
    found: dict[str, list[Unit]] = {}
    for unit in session.exec(query):
        found.setdefault(unit.code, []).append(unit)
    units = []
    for code in unit_codes:
        matches = found.get(code, [])
        if not matches:
            raise InvalidInput(f"Unknown unit '{code}'", field="units")
        if len(matches) > 1:
            raise InvalidInput(
                f"Unit code '{code}' exists in several agencies; name the agency", field="agency"
            )
        units.append(matches[0])
    return units


def scope_units(
    session: Session,
    role: Role,
    unit_codes: Sequence[str],
    agency_code: str | None,
    holder: str,
) -> list[Unit]:
    """The units a new key or person acts for: a role that only enters data (operator) must
    be scoped to at least one."""
    units = resolve_units(session, unit_codes, agency_code)
    if role.needs_units and not units:
        raise InvalidInput(f"An {role} {holder} must be scoped to at least one unit", field="units")
    return units


def unit_codes_by_holder(session: Session, holder: Any, unit: Any) -> dict[int, list[str]]:
    """The sorted unit codes of every key (or person), from a link table's holder and unit
    columns, in one query."""
    scope: dict[int, list[str]] = {}
    for holder_id, unit_code in session.exec(
        select(holder, Unit.code).join(Unit, col(Unit.id) == unit).order_by(col(Unit.code))
    ):
        scope.setdefault(holder_id, []).append(unit_code)
    return scope


def create_key(
    session: Session,
    name: str,
    role: Role,
    unit_codes: Sequence[str] = (),
    agency_code: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret. A role that only enters data (operator) must be scoped to
    at least one unit."""
    name = principal_name(name)
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise Conflict(f"A key named '{name}' already exists")
    units = scope_units(session, role, unit_codes, agency_code, "key")
    secret = generate_secret()
    key = ApiKey(name=name, role=role, prefix=secret[:10], secret_hash=hash_secret(secret))
    session.add(key)
    session.flush()
    assert key.id is not None
    for unit in units:
        assert unit.id is not None
        session.add(ApiKeyUnit(api_key_id=key.id, unit_id=unit.id))
    session.flush()
    return key, secret


def list_keys(session: Session) -> list[tuple[ApiKey, list[str]]]:
    """Every key with the codes of its units."""
    keys = list(session.exec(select(ApiKey).order_by(col(ApiKey.name))))
    scope = unit_codes_by_holder(session, col(ApiKeyUnit.api_key_id), col(ApiKeyUnit.unit_id))
    return [(key, scope.get(key.id or 0, [])) for key in keys]


def revoke_key(session: Session, name: str) -> ApiKey:
    """Revoke a key by name; a revoked key never authenticates again."""
    key = session.exec(select(ApiKey).where(ApiKey.name == principal_name(name))).first()
    if key is None:
        raise NotFound(f"No key named '{name}'")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


BOOTSTRAP_LOCK = 0x494B494B  # "IKIK": the PostgreSQL advisory lock of the first admin key


def ensure_bootstrap_admin(session: Session) -> str | None:
    """On a database without any key, create an admin key and return its secret (else None).
    The caller commits, from a session of `for_writes`: replicas started together then create
    one key, the others waiting for its commit before they count (on PostgreSQL for an
    advisory lock, on SQLite for the write lock their transaction begins with)."""
    if session.get_bind().dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        session.connection().execute(lock, {"key": BOOTSTRAP_LOCK})
    if session.exec(select(func.count()).select_from(ApiKey)).one() > 0:
        return None
    _, secret = create_key(session, "admin", Role.admin)
    return secret
