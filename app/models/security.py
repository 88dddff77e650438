"""API keys: a name, a role, an optional unit scope and the hash of the secret."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.models.base import enum_column, timestamp_field


class Capability(StrEnum):
    """What a principal may do. Routes and services ask for a capability, never for a role."""

    read_definitions = "read_definitions"
    """The SK: agencies, units, positions, decrees, indicators, variables, targets, rating
    scales, data-quality rules, the lint and the printed SK and IKI documents."""
    read_achievements = "read_achievements"
    """Capaian (JSON, CSV, workbook, the printed report) and the state of each quarter."""
    read_data = "read_data"
    """The data values themselves, their history, a unit's fill-in template and the
    data-quality checks of a unit's quarter (a principal working for units only: of its
    units)."""
    read_audit = "read_audit"
    """The audit trail, and the check of the sealed figures against their recomputation."""
    enter_data = "enter_data"
    """Write data values of the principal's units."""
    submit = "submit"
    """Submit a quarter of the principal's units for verification."""
    verify = "verify"
    """Verify, return or reopen a unit's quarter (never one holding data of one's own)."""
    all_units = "all_units"
    """Enter data and submit for every unit, not only the principal's own."""
    administer = "administer"
    """Change definitions (data-quality rules included), targets and rating scales."""


_READ = frozenset({Capability.read_definitions, Capability.read_achievements})
_READ_DATA = _READ | {Capability.read_data}
_UNIT_WORK = frozenset({Capability.enter_data, Capability.submit})


class Role(StrEnum):
    """Named sets of capabilities (`ROLE_CAPABILITIES`). A new role is one member here, one
    line there and a migration of the CHECK constraints that list the roles."""

    viewer = "viewer"
    reader = "reader"
    auditor = "auditor"
    operator = "operator"
    verifier = "verifier"
    admin = "admin"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return ROLE_CAPABILITIES[self]

    @property
    def needs_units(self) -> bool:
        """Whether a key of the role is useless without units: it may enter data only for
        its own, and has no other write."""
        caps = self.capabilities
        return Capability.enter_data in caps and not caps & {
            Capability.all_units,
            Capability.verify,
        }


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    # leadership, a pull-only machine client: definitions and capaian
    Role.viewer: _READ,
    # e-SAKIP: also the data values behind the capaian
    Role.reader: _READ_DATA,
    # Inspektorat: everything readable, the audit trail included; writes nothing
    Role.auditor: _READ_DATA | {Capability.read_audit},
    # bidang staff: enter and submit their units' data
    Role.operator: _READ_DATA | _UNIT_WORK,
    # Sekretaris, Kepala Dinas: verify; enter and submit only where scoped to units
    Role.verifier: _READ_DATA | _UNIT_WORK | {Capability.read_audit, Capability.verify},
    Role.admin: frozenset(Capability),
}


class ApiKey(SQLModel, table=True):
    """A bearer key. Only the SHA-256 of its secret is stored."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    role: Role = Field(sa_type=enum_column(Role, "role"))
    prefix: str = Field(
        max_length=16, description="The first characters of the key, to tell keys apart"
    )
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeyUnit(SQLModel, table=True):
    """The units an operator key may write for."""

    __tablename__ = "api_key_unit"

    api_key_id: int = Field(foreign_key="api_key.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
