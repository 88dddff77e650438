"""API keys: generation, hashing, authentication and role/unit checks."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import BUSY_TIMEOUT_MS, SessionDep, utcnow
from app.core.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from app.models import ApiKey, ApiKeyUnit, Capability, Role

KEY_PREFIX = "iki_"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer iki_...`. Ask an admin for one "
    "(`iki keys create`).",
)


MAX_NAME = 100
# Control, format (zero-width, bidi), surrogate, private-use and unassigned characters, and
# line or paragraph separators: none shows as itself, so none may tell two names apart.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def principal_name(raw: str) -> str:
    """A key's (or person's) name as stored and compared: NFKC-folded and case-folded, so
    that `Sekretaris` and a full-width `ｓｅｋｒｅｔａｒｉｓ` are one name; refused when it
    holds a character that does not show (a zero-width space, a control character) or any
    white space but single spaces."""
    folded = unicodedata.normalize("NFKC", raw).casefold()
    name = " ".join(part for part in folded.split(" ") if part)
    hidden = [
        c for c in name if unicodedata.category(c) in _INVISIBLE or (c.isspace() and c != " ")
    ]
    if hidden:
        shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(hidden))
        raise InvalidInput(
            f"A name may not hold invisible or control characters ({shown})", field="name"
        )
    if not name:
        raise InvalidInput("A name must not be empty", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"A name has at most {MAX_NAME} characters", field="name")
    return name


def generate_secret() -> str:
    """A new random key (256 bits of entropy), shown to its owner once."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # Keys are 256-bit random values, so a fast hash is as safe as a slow KDF would be and
    # lets every request look its key up by an index.
    return hashlib.sha256(secret.encode()).hexdigest()


class PrincipalKind(StrEnum):
    """The kinds of caller that resolve to a principal."""

    key = "key"


@dataclass(frozen=True)
class Principal:
    """Who is calling, whatever the door: its identity, name, role, the capabilities the role
    grants and the units it acts for. Every rule asks this, never a role's name."""

    kind: PrincipalKind
    id: int
    name: str
    role: Role
    unit_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def identity(self) -> str:
        """Who this is, whatever its name: compared by four eyes, recorded in the audit."""
        return f"{self.kind}:{self.id}"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.role.capabilities

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def acts_for_unit(self, unit_id: int) -> bool:
        """Whether the principal's unit-bound capabilities (enter data, submit) reach a unit:
        every unit with `all_units`, else the units it is scoped to."""
        return self.can(Capability.all_units) or unit_id in self.unit_ids

    def may_write_unit(self, unit_id: int) -> bool:
        """Whether the principal may enter data for a unit."""
        return self.can(Capability.enter_data) and self.acts_for_unit(unit_id)

    def may_submit_unit(self, unit_id: int) -> bool:
        """Whether the principal may submit a unit's quarter."""
        return self.can(Capability.submit) and self.acts_for_unit(unit_id)


def authenticate_secret(session: Session, secret: str) -> Principal | None:
    """The principal of a live key with this secret, or None."""
    key = session.exec(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    assert key.id is not None
    unit_ids = frozenset(
        session.exec(select(ApiKeyUnit.unit_id).where(ApiKeyUnit.api_key_id == key.id))
    )
    principal = Principal(PrincipalKind.key, key.id, key.name, Role(key.role), unit_ids)
    now = utcnow()
    resolution = timedelta(seconds=get_settings().key_last_used_resolution_seconds)
    if key.last_used_at is None or now - key.last_used_at >= resolution:
        _record_use(session, key.id, now)
    return principal


def _record_use(session: Session, key_id: int, now: datetime) -> None:
    """Write a key's last use in a short transaction of its own that never waits: when
    another writer holds the lock (a long import), the time is written by a later request
    instead, and this one goes on (last_used_at is only as exact as its resolution)."""
    session.commit()  # end the read first: its snapshot could not be written from on SQLite
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    try:
        if sqlite:
            connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        else:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
        try:
            session.exec(update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=now))
        finally:
            if sqlite:  # before the connection goes back to the pool
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        session.commit()
    except OperationalError:
        session.rollback()


_failures = MovingWindowRateLimiter(MemoryStorage())


def _failure_limit() -> RateLimitItem | None:
    """How many failed authentications an address may make (AUTH_FAILURE_LIMIT), if any."""
    value = get_settings().auth_failure_limit.strip()
    return parse_limit(value) if value and value != "0" else None


def _refuse_if_throttled(address: str, limit: RateLimitItem) -> None:
    if _failures.test(limit, "auth-failures", address):
        return
    reset = _failures.get_window_stats(limit, "auth-failures", address).reset_time
    wait = max(1, math.ceil(reset - time.time()))
    raise TooManyRequests(
        f"Too many failed authentications from your address; retry in {wait} s.",
        headers={"Retry-After": str(wait)},
    )


def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller, from its bearer key; 401 without a valid one, 429 for an address that
    failed too often (in process, per worker)."""
    limit = _failure_limit()
    address = request.client.host if request.client else "-"
    if limit is not None:
        _refuse_if_throttled(address, limit)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "Send an API key as `Authorization: Bearer <key>`.",
        )
    principal = authenticate_secret(session, credentials.credentials)
    if principal is None:
        if limit is not None:
            _failures.hit(limit, "auth-failures", address)
        raise Unauthenticated("The API key is unknown or revoked.")
    request.state.principal = principal
    return principal


CurrentKey = Annotated[Principal, Depends(current_principal)]


def requires(capability: Capability) -> Any:
    """A dependency that lets through principals holding `capability` (403 otherwise)."""

    async def _check(principal: CurrentKey) -> Principal:  # no I/O: no thread pool hop
        if not principal.can(capability):
            raise Forbidden(
                f"This needs the capability '{capability}', which a '{principal.role}' key "
                f"does not have (roles that have it: {', '.join(roles_with(capability))})."
            )
        return principal

    _check.capability = capability  # type: ignore[attr-defined]  # read by the route audit test
    return Depends(_check)


def roles_with(capability: Capability) -> list[str]:
    return [str(role) for role in Role if capability in role.capabilities]


DefinitionsReader = Annotated[Principal, requires(Capability.read_definitions)]
AchievementsReader = Annotated[Principal, requires(Capability.read_achievements)]
DataReader = Annotated[Principal, requires(Capability.read_data)]
AuditReader = Annotated[Principal, requires(Capability.read_audit)]
DataEntry = Annotated[Principal, requires(Capability.enter_data)]
Submitter = Annotated[Principal, requires(Capability.submit)]
Verifier = Annotated[Principal, requires(Capability.verify)]
Administrator = Annotated[Principal, requires(Capability.administer)]
