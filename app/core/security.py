"""API keys: generation, hashing, authentication and role/unit checks."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import BUSY_TIMEOUT_MS, utcnow
from app.core.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from app.models import ApiKey, ApiKeyUnit, Capability, Role

logger = logging.getLogger("app.security")

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
    person = "person"
    subscription = "subscription"
    """A webhook subscription: it is sent only what it may read (`SUBSCRIPTION_CAPABILITIES`)."""


SUBSCRIPTION_CAPABILITIES = frozenset({Capability.read_achievements})
"""All a webhook subscription may read: capaian and the state of each quarter, as a viewer
key would (and no more: neither the definitions nor the data values behind them)."""


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
        if self.kind is PrincipalKind.subscription:
            return SUBSCRIPTION_CAPABILITIES
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


def resolve_principal(
    session: Session, kind: PrincipalKind, id: int, name: str, role: Role
) -> Principal:
    """The principal of a key or a person: its role, and the units it is scoped to (the one
    path both kinds take, so a person is allowed exactly what a key of its role is)."""
    from app.models import PersonUnit

    if kind is PrincipalKind.key:
        units = select(ApiKeyUnit.unit_id).where(ApiKeyUnit.api_key_id == id)
    else:
        units = select(PersonUnit.unit_id).where(PersonUnit.person_id == id)
    return Principal(kind, id, name, role, frozenset(session.exec(units)))


def authenticate_secret(session: Session, secret: str) -> Principal | None:
    """The principal of a live key with this secret, or None."""
    key = session.exec(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    assert key.id is not None
    principal = resolve_principal(session, PrincipalKind.key, key.id, key.name, Role(key.role))
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


class FailureThrottle:
    """Counts failed authentications per client address and per key prefix (the first
    characters of the credential sent), in a `limits` storage: the one RATE_LIMIT_STORAGE_URL
    names (memory by default: per process; Redis: shared by every worker and replica),
    opened at the first use, or the one given.

    A storage that cannot be reached (Redis down) counts nothing and refuses nothing: a
    failed key is still answered 401 and a wrong password still refused, the throttle only
    stops slowing guessers down until it is back (logged at each failure)."""

    def __init__(self, storage: Storage | None = None) -> None:
        self._storage = storage
        self._limiter_of: MovingWindowRateLimiter | None = None

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            # Errors of the storage's client (redis-py's) come wrapped as StorageError.
            url = get_settings().rate_limit_storage_url
            opened = storage_from_string(url, wrap_exceptions=True)
            if not isinstance(opened, Storage):  # an `async+...` URL
                raise ValueError("RATE_LIMIT_STORAGE_URL must name a storage that is not async+")
            self._storage = opened
        return self._storage

    @property
    def _limiter(self) -> MovingWindowRateLimiter:
        if self._limiter_of is None:
            self._limiter_of = MovingWindowRateLimiter(self.storage)
        return self._limiter_of

    def fail(self, limit: RateLimitItem, address: str, credential: str) -> int | None:
        """Count a failed attempt; the seconds to wait when its address or its key prefix is
        over `limit`, else None. An address over the limit is not counted further, so a
        flood from one address adds no prefixes to the storage."""
        with _unreachable_storage():
            for kind, value in (("address", address), ("prefix", credential[:KEY_PREFIX_CHARS])):
                if not self._limiter.hit(limit, "auth-failures", kind, value):
                    reset = self._limiter.get_window_stats(limit, "auth-failures", kind, value)
                    return max(1, math.ceil(reset.reset_time - time.time()))
        return None

    def fail_sign_in(self, limit: RateLimitItem, address: str, name: str) -> None:
        """Count a failed sign-in against its address and the name it tried."""
        with _unreachable_storage():
            for kind, value in (("address", address), ("name", name)):
                self._limiter.hit(limit, "sign-in-failures", kind, value)

    def sign_in_wait(self, limit: RateLimitItem, address: str, name: str) -> int | None:
        """The seconds to wait before signing in from `address` or as `name` is tried again,
        when either has used up its failures; else None."""
        waits = []
        with _unreachable_storage():
            for kind, value in (("address", address), ("name", name)):
                if not self._limiter.test(limit, "sign-in-failures", kind, value):
                    stats = self._limiter.get_window_stats(limit, "sign-in-failures", kind, value)
                    waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    def reset(self) -> None:
        self.storage.reset()


# Characters of a credential that name its prefix: `iki_` and 6 more, as `iki keys list` shows.
KEY_PREFIX_CHARS = 10
failures = FailureThrottle()


@contextmanager
def _unreachable_storage() -> Iterator[None]:
    """A throttle storage that cannot be reached counts nothing (see `FailureThrottle`)."""
    try:
        yield
    except (ConnectionError, TimeoutError, StorageError) as error:
        logger.warning("the throttle's storage cannot be reached: %s", error)


def failure_limit() -> RateLimitItem | None:
    """How many failed authentications an address or a key prefix may make
    (AUTH_FAILURE_LIMIT), if any."""
    value = get_settings().auth_failure_limit.strip()
    return parse_limit(value) if value and value != "0" else None


def bearer_credential(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, if that is what it holds."""
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def authenticate(session: Session, credential: str | None, address: str) -> Principal:
    """The principal of a bearer key; 401 without a valid one. A failed attempt is counted
    against its client address and its key prefix, and answered 429 (with Retry-After)
    once either is over AUTH_FAILURE_LIMIT; a valid key is never refused, so one broken
    script cannot lock out the office that shares its address."""
    if credential is None:
        raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.")
    principal = authenticate_secret(session, credential)
    if principal is not None:
        return principal
    limit = failure_limit()
    wait = failures.fail(limit, address, credential) if limit is not None else None
    if wait is not None:
        raise TooManyRequests(
            f"Too many failed authentications from your address or with this key; retry "
            f"in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    raise Unauthenticated("The API key is unknown or revoked.")


async def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller, authenticated by `RequestGuard` (app/api/limits.py) before the request
    reached its route (and before its body was read): no query here."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # only an app assembled without the guard gets here
        raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.")
    return principal


CurrentKey = Annotated[Principal, Depends(current_principal)]


def refusal(principal: Principal, capability: Capability) -> Forbidden:
    """The 403 of a principal lacking `capability`, naming the roles that have it."""
    return Forbidden(
        f"This needs the capability '{capability}', which the role '{principal.role}' "
        f"does not have (roles that have it: {', '.join(roles_with(capability))})."
    )


def requires(capability: Capability) -> Any:
    """A dependency that lets through principals holding `capability` (403 otherwise). The
    request guard reads `capability` off it to refuse before the body is read."""

    async def _check(principal: CurrentKey) -> Principal:  # no I/O: no thread pool hop
        if not principal.can(capability):
            raise refusal(principal, capability)
        return principal

    _check.capability = capability  # type: ignore[attr-defined]
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
