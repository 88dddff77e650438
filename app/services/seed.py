"""Load the seed (agencies, their SKs, the default rating scale) from YAML, idempotently."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel, select

from app.core.db import utcnow
from app.core.errors import InvalidInput
from app.formula import FormulaError, validate
from app.models import (
    Agency,
    Aggregation,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Polarity,
    Position,
    RatingScale,
    SeedLoad,
    Unit,
    ValueType,
    Variable,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedAgency(_Strict):
    code: str
    name: str
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None


class SeedUnit(_Strict):
    code: str
    name: str


class SeedPosition(_Strict):
    code: str
    title: str
    echelon: str | None = None
    unit: str | None = None
    superior: str | None = None
    duties: list[str] = Field(default_factory=list)
    functions: list[str] = Field(default_factory=list)
    activities: list[str] = Field(default_factory=list)


class SeedOrganization(_Strict):
    agency: SeedAgency
    units: list[SeedUnit]
    positions: list[SeedPosition]


class SeedVariable(_Strict):
    code: str
    label: str
    unit_of_measure: str
    value_type: ValueType = ValueType.integer
    aggregation: Aggregation
    min_value: float | None = 0.0
    max_value: float | None = None
    owner_unit: str
    description: str | None = None


class SeedVariables(_Strict):
    variables: list[SeedVariable]


class SeedIndicator(_Strict):
    number: int
    code: str
    name: str
    formula: str
    unit_of_measure: str
    polarity: Polarity = Polarity.higher_is_better
    decimals: int = 2
    explanation: str | None = None
    data_source: str | None = None
    source_units: list[str] = Field(default_factory=list)
    parent: str | None = None
    notes: str | None = None


class SeedObjective(_Strict):
    position: str
    number: int
    statement: str
    indicators: list[SeedIndicator]


class SeedDecreeHeader(_Strict):
    number: str
    title: str | None = None
    date: dt.date
    year: int
    signatory: str | None = None
    signatory_title: str | None = None
    signatory_rank: str | None = None
    signatory_nip: str | None = None


class SeedDecree(_Strict):
    decree: SeedDecreeHeader
    objectives: list[SeedObjective]


class SeedBand(_Strict):
    min: float | None
    code: str
    label: str
    color: str | None = None


class SeedScale(_Strict):
    code: str
    name: str
    bands: list[SeedBand]


class SeedRatingScale(_Strict):
    scale: SeedScale


class SeedReport(BaseModel):
    """What a seed run did, per table: rows created, updated and left unchanged."""

    created: Counter[str] = Field(default_factory=Counter)
    updated: Counter[str] = Field(default_factory=Counter)
    unchanged: Counter[str] = Field(default_factory=Counter)
    loaded: list[str] = Field(default_factory=list, description="Seed files loaded now")

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))


M = TypeVar("M", bound=SQLModel)


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class _Upserter:
    """Writes rows by natural key and counts what it did. Rows that exist are left as they
    are (admins may have edited them since) unless `update_existing`, which applies what
    differs from the seed."""

    def __init__(self, session: Session, report: SeedReport, update_existing: bool) -> None:
        self.session = session
        self.report = report
        self.update_existing = update_existing
        self.created: set[tuple[str, int]] = set()  # (table, id) of the rows created now
        self.loaded = {row.source: row for row in session.exec(select(SeedLoad))}

    def due(self, source: str) -> bool:
        """Whether a seed file is to be loaded: never loaded before, or updating."""
        return self.update_existing or source not in self.loaded

    def mark(self, source: str) -> None:
        """Record a seed file as loaded."""
        row = self.loaded.get(source) or SeedLoad(source=source)
        row.loaded_at = utcnow()
        self.session.add(row)
        self.loaded[source] = row
        self.report.loaded.append(source)

    def is_new(self, table: str, row: Any) -> bool:
        return (table, row.id) in self.created

    def index(
        self, model: type[M], rows: Iterable[M], key: Callable[[M], Hashable]
    ) -> dict[Hashable, M]:
        return {key(row): row for row in rows}

    def upsert(
        self, model: type[M], existing: dict[Hashable, M], key: Hashable, values: dict[str, Any]
    ) -> M:
        table = str(model.__tablename__)
        row = existing.get(key)
        if row is None:
            row = model(**values)
            self.session.add(row)
            self.session.flush()
            existing[key] = row
            self.report.created[table] += 1
            self.created.add((table, row.id))  # type: ignore[attr-defined]
            return row
        if not self.update_existing:
            self.report.unchanged[table] += 1
            return row
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            for name, value in changed.items():
                setattr(row, name, value)
            if hasattr(row, "updated_at"):
                row.updated_at = utcnow()
            self.session.add(row)
            self.session.flush()
            self.report.updated[table] += 1
        else:
            self.report.unchanged[table] += 1
        return row


def load_seed(session: Session, seed_dir: Path, *, update_existing: bool = False) -> SeedReport:
    """Load the seed files under `seed_dir` that were never loaded (the caller commits).

    A file is loaded once: running the seed at every start never undoes an admin's edit nor
    brings back a code an admin renamed. `update_existing` loads every file again and applies
    its values over the rows that exist."""
    report = SeedReport()
    up = _Upserter(session, report, update_existing)
    scale_file = seed_dir / "rating_scale.yaml"
    if scale_file.exists() and up.due(scale_file.name):
        _load_rating_scale(up, SeedRatingScale.model_validate(_read_yaml(scale_file)))
        up.mark(scale_file.name)
    for folder in sorted(p for p in seed_dir.iterdir() if (p / "organization.yaml").exists()):
        _load_agency_folder(up, folder)
    return report


def _load_rating_scale(up: _Upserter, data: SeedRatingScale) -> None:
    existing = up.index(RatingScale, up.session.exec(select(RatingScale)), lambda r: r.code)
    has_default = any(s.is_default for s in existing.values())
    if has_default and not up.update_existing:
        make_default = bool(existing.get(data.scale.code) and existing[data.scale.code].is_default)
    else:
        make_default = True
        for other in existing.values():
            if other.code != data.scale.code and other.is_default:
                other.is_default = False
                up.session.add(other)
    up.upsert(
        RatingScale,
        existing,
        data.scale.code,
        {
            "code": data.scale.code,
            "name": data.scale.name,
            "is_default": make_default,
            "bands": [band.model_dump() for band in data.scale.bands],
        },
    )


def _load_agency_folder(up: _Upserter, folder: Path) -> None:
    session = up.session
    org_source = f"{folder.name}/organization.yaml"
    decree_files = [
        f for f in sorted(folder.glob("decree-*.yaml")) if up.due(f"{folder.name}/{f.name}")
    ]
    if not up.due(org_source) and not decree_files:
        return
    org = SeedOrganization.model_validate(_read_yaml(folder / "organization.yaml"))
    variables = SeedVariables.model_validate(_read_yaml(folder / "variables.yaml"))
    if not up.due(org_source):  # only a new decree file: the organisation is as admins keep it
        agency = session.exec(select(Agency).where(Agency.code == org.agency.code)).first()
        if agency is None:
            raise InvalidInput(
                f"Seed {folder.name}: agency {org.agency.code} no longer exists; "
                "load the folder again with `iki seed --update`"
            )
        for decree_file in decree_files:
            _load_decree_file(up, agency, folder, decree_file)
        return

    agencies = up.index(Agency, session.exec(select(Agency)), lambda a: a.code)
    agency = up.upsert(Agency, agencies, org.agency.code, org.agency.model_dump())
    assert agency.id is not None

    units = up.index(
        Unit, session.exec(select(Unit).where(Unit.agency_id == agency.id)), lambda u: u.code
    )
    for unit in org.units:
        up.upsert(Unit, units, unit.code, {"agency_id": agency.id, **unit.model_dump()})
    unit_ids = _ids(units)

    positions = up.index(
        Position,
        session.exec(select(Position).where(Position.agency_id == agency.id)),
        lambda p: p.code,
    )
    for pos in org.positions:  # a superior is listed before its subordinates
        values = pos.model_dump(exclude={"unit", "superior"})
        values.update(
            agency_id=agency.id,
            unit_id=_ref(unit_ids, pos.unit, "unit", pos.code),
            superior_id=_ref(_ids(positions), pos.superior, "position", pos.code),
        )
        up.upsert(Position, positions, pos.code, values)

    known_variables = up.index(
        Variable,
        session.exec(select(Variable).where(Variable.agency_id == agency.id)),
        lambda v: v.code,
    )
    for var in variables.variables:
        values = var.model_dump(exclude={"owner_unit"})
        values.update(
            agency_id=agency.id,
            owner_unit_id=_ref(unit_ids, var.owner_unit, "unit", var.code),
        )
        up.upsert(Variable, known_variables, var.code, values)

    up.mark(org_source)
    for decree_file in decree_files:
        _load_decree_file(up, agency, folder, decree_file)


def _load_decree_file(up: _Upserter, agency: Agency, folder: Path, decree_file: Path) -> None:
    """Load one SK, its references resolved by code among the agency's rows as they are."""
    session = up.session
    units = session.exec(select(Unit.code, Unit.id).where(Unit.agency_id == agency.id)).all()
    positions = session.exec(
        select(Position.code, Position.id).where(Position.agency_id == agency.id)
    ).all()
    variable_codes = set(session.exec(select(Variable.code).where(Variable.agency_id == agency.id)))
    decree = SeedDecree.model_validate(_read_yaml(decree_file))
    _load_decree(up, agency, decree, dict(units), dict(positions), variable_codes)
    up.mark(f"{folder.name}/{decree_file.name}")


def _load_decree(
    up: _Upserter,
    agency: Agency,
    data: SeedDecree,
    unit_ids: dict[str, int | None],
    position_ids: dict[str, int | None],
    variable_codes: set[str],
) -> None:
    session = up.session
    decrees = up.index(  # by number: the SK's identity, whatever year an admin gave it since
        Decree,
        session.exec(select(Decree).where(Decree.agency_id == agency.id)),
        lambda d: d.number,
    )
    decree = up.upsert(
        Decree, decrees, data.decree.number, {"agency_id": agency.id, **data.decree.model_dump()}
    )
    objectives = up.index(
        Objective,
        session.exec(select(Objective).where(Objective.decree_id == decree.id)),
        lambda o: (o.position_id, o.number),
    )
    indicators = up.index(
        Indicator,
        session.exec(select(Indicator).where(Indicator.decree_id == decree.id)),
        lambda i: i.code,
    )
    links = {
        (link.indicator_id, link.unit_id)
        for link in session.exec(
            select(IndicatorSourceUnit)
            .join(Indicator, Indicator.id == IndicatorSourceUnit.indicator_id)  # type: ignore[arg-type]
            .where(Indicator.decree_id == decree.id)
        )
    }
    wanted_links: set[tuple[int, int]] = set()
    for obj in data.objectives:
        position_id = _ref(position_ids, obj.position, "position", f"objective {obj.number}")
        objective = up.upsert(
            Objective,
            objectives,
            (position_id, obj.number),
            {
                "decree_id": decree.id,
                "position_id": position_id,
                "number": obj.number,
                "statement": obj.statement,
            },
        )
        for ind in obj.indicators:
            try:
                validate(ind.formula, variable_codes)
            except FormulaError as exc:
                raise InvalidInput(f"Seed indicator {ind.code}: {exc.message}") from exc
            values = ind.model_dump(exclude={"source_units", "parent"})
            values.update(  # a parent indicator is listed before the ones cascading to it
                decree_id=decree.id,
                objective_id=objective.id,
                parent_id=_ref(_ids(indicators), ind.parent, "indicator", ind.code),
            )
            indicator = up.upsert(Indicator, indicators, ind.code, values)
            assert indicator.id is not None
            if not (up.update_existing or up.is_new("indicator", indicator)):
                continue
            for unit_code in ind.source_units:
                unit_id = _ref(unit_ids, unit_code, "unit", ind.code)
                assert unit_id is not None
                wanted_links.add((indicator.id, unit_id))
    for indicator_id, unit_id in wanted_links - links:
        session.add(IndicatorSourceUnit(indicator_id=indicator_id, unit_id=unit_id))
        up.report.created["indicator_source_unit"] += 1
    stale_links = links - wanted_links if up.update_existing else set()
    for indicator_id, unit_id in stale_links:
        session.delete(session.get(IndicatorSourceUnit, (indicator_id, unit_id)))
        up.report.updated["indicator_source_unit"] += 1
    session.flush()


def _ids(rows: dict[Hashable, Any]) -> dict[str, int | None]:
    return {str(key): row.id for key, row in rows.items()}


def _ref(ids: dict[str, int | None], code: str | None, kind: str, where: str) -> int | None:
    if code is None:
        return None
    if code not in ids:
        raise InvalidInput(f"Seed: {where} refers to unknown {kind} '{code}'")
    return ids[code]
