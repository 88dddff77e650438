"""Load the seed (agencies, their SKs, the default rating scale) from YAML, idempotently.

The seed is one more client of the services: every entry is validated by the same `XCreate`
model as the API's body and checked and written by the same service code, so the same data is
valid through both doors or through neither. New rows go through the services' `NewX` (each
a `NewRows`; what `create_x` uses for the API's one row): each entry is checked as it is
added, and a file's new rows of a kind are written together, with a fixed number of queries.

Rows are matched by natural key (codes, the SK's number); a row that exists is left as it is
(an admin may have edited it) unless the seed is loaded with `update_existing`, which applies
what differs through the same `update_*` services.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import to_jsonable_python
from sqlmodel import Session, SQLModel, col, select

from app.core.db import utcnow
from app.core.errors import AppError, InvalidInput
from app.models import (
    Agency,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    RatingScale,
    SeedLoad,
    Unit,
    Variable,
)
from app.models.decrees import DecreeBase
from app.models.indicators import IndicatorBase
from app.models.objectives import ObjectiveBase
from app.models.organization import AgencyBase, PositionBase, UnitBase
from app.models.variables import VariableBase
from app.schemas.decrees import DecreeCreate, DecreeUpdate
from app.schemas.indicators import IndicatorCreate, IndicatorUpdate
from app.schemas.objectives import ObjectiveCreate, ObjectiveUpdate
from app.schemas.organization import (
    AgencyCreate,
    AgencyUpdate,
    PositionCreate,
    PositionUpdate,
    UnitCreate,
    UnitUpdate,
)
from app.schemas.rating_scales import RatingScalePut
from app.schemas.variables import VariableCreate, VariableUpdate
from app.services import decrees, indicators, objectives, organization, rating_scales, variables
from app.services.common import NewRows, agency_positions, id_of

M = TypeVar("M", bound=BaseModel)


class SeedReport(BaseModel):
    """What a seed run did, per table: rows created, updated and left unchanged."""

    created: Counter[str] = Field(default_factory=Counter)
    updated: Counter[str] = Field(default_factory=Counter)
    unchanged: Counter[str] = Field(default_factory=Counter)
    loaded: list[str] = Field(default_factory=list, description="Seed files loaded now")

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))


# libyaml's parser when PyYAML has it: the same safe loader, several times faster.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_YamlLoader)


def _entries(data: Any, key: str, source: str) -> list[dict[str, Any]]:
    entries = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise InvalidInput(f"Seed {source}: '{key}' must be a list of entries")
    return [dict(e) for e in entries]


def _differences(
    data: SQLModel, row: SQLModel, base: type[SQLModel], references: Mapping[str, Any] = {}
) -> dict[str, Any]:
    """What the seed says differently from the row: the fields `base` declares, and the
    references (by code) given with their current values."""
    changes = {
        name: getattr(data, name)
        for name in base.model_fields
        # As stored: a JSON column reads back as plain lists and dicts, not the seed's models.
        if to_jsonable_python(getattr(data, name)) != to_jsonable_python(getattr(row, name))
    }
    changes.update(
        (name, getattr(data, name))
        for name, current in references.items()
        if getattr(data, name) != current
    )
    return changes


class _Loader:
    """Validates seed entries with the API's models and writes them with its services,
    counting what it did."""

    def __init__(self, session: Session, report: SeedReport, update_existing: bool) -> None:
        self.session = session
        self.report = report
        self.update_existing = update_existing
        self.loaded = {row.source: row for row in session.exec(select(SeedLoad))}
        self.source = ""

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

    @contextmanager
    def entry(self, what: str) -> Iterator[None]:
        """Name the file and entry in any refusal of the API's models or services."""
        try:
            yield
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"Seed {self.source}, {what}: {problems}") from exc
        except AppError as exc:
            raise InvalidInput(f"Seed {self.source}, {what}: {exc.detail}") from exc

    def put(
        self,
        table: str,
        row: SQLModel | None,
        data: SQLModel,
        *,
        create: Callable[[Any], Any],
        update: Callable[[Session, int, Any], Any],
        patch: type[SQLModel],
        base: type[SQLModel],
        references: Mapping[str, Any] | None = None,
        new: NewRows[Any, Any] | None = None,
    ) -> Any:
        """Create the row from `data` with `create` (a service, or the `add` of the service's
        new rows `new`), or (when updating) apply what differs with the `update` service;
        what `create` answers, or the row."""
        if row is None:
            self.report.created[table] += 1
            return create(data)
        changes = _differences(data, row, base, references or {}) if self.update_existing else {}
        if changes:
            if new is not None:
                new.write()  # the change may refer to a row created before it
            update(self.session, id_of(row), patch.model_validate(changes))
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
    loader = _Loader(session, report, update_existing)
    scale_file = seed_dir / "rating_scale.yaml"
    if scale_file.exists() and loader.due(scale_file.name):
        loader.source = scale_file.name
        _load_rating_scale(loader, _read_yaml(scale_file))
        loader.mark(scale_file.name)
    for folder in sorted(p for p in seed_dir.iterdir() if (p / "organization.yaml").exists()):
        _load_agency_folder(loader, folder)
    return report


def _load_rating_scale(loader: _Loader, data: Any) -> None:
    session = loader.session
    scale = data.get("scale") if isinstance(data, Mapping) else None
    if not isinstance(scale, Mapping) or "code" not in scale:
        raise InvalidInput(f"Seed {loader.source}: 'scale' must name a code, a name and bands")
    code = str(scale["code"])
    row = session.exec(select(RatingScale).where(RatingScale.code == code)).first()
    if row is not None and not loader.update_existing:
        loader.report.unchanged["rating_scale"] += 1
        return
    has_default = session.exec(select(RatingScale.id).where(col(RatingScale.is_default))).first()
    # A new scale is the default unless another one is; updating makes the seed's the default.
    make_default = loader.update_existing or has_default is None
    before = (row.name, row.bands, row.is_default) if row else None
    with loader.entry(f"scale {code}"):
        body = RatingScalePut.model_validate(
            {k: v for k, v in scale.items() if k != "code"} | {"is_default": make_default}
        )
        after = rating_scales.put_scale(session, code, body)
    stored = (after.name, [b.model_dump() for b in after.bands], after.is_default)
    counter = loader.report.created if before is None else loader.report.updated
    if before is None or before != stored:
        counter["rating_scale"] += 1
    else:
        loader.report.unchanged["rating_scale"] += 1


def _load_agency_folder(loader: _Loader, folder: Path) -> None:
    session = loader.session
    org_source = f"{folder.name}/organization.yaml"
    decree_files = [
        f for f in sorted(folder.glob("decree-*.yaml")) if loader.due(f"{folder.name}/{f.name}")
    ]
    if not loader.due(org_source) and not decree_files:
        return
    loader.source = org_source
    org = _read_yaml(folder / "organization.yaml")
    agency_entry = org.get("agency") if isinstance(org, Mapping) else None
    if not isinstance(agency_entry, Mapping):
        raise InvalidInput(f"Seed {org_source}: 'agency' must describe the agency")
    with loader.entry("agency"):
        agency_data = AgencyCreate.model_validate(agency_entry)
    agency = session.exec(select(Agency).where(Agency.code == agency_data.code)).first()
    if not loader.due(org_source):  # only a new decree file: the organisation is as admins keep it
        if agency is None:
            raise InvalidInput(
                f"Seed {folder.name}: agency {agency_data.code} no longer exists; "
                "load the folder again with `iki seed --update`"
            )
    else:
        _load_organization(loader, agency_data, agency, org)
        loader.source = f"{folder.name}/variables.yaml"
        _load_variables(loader, agency_data.code, _read_yaml(folder / "variables.yaml"))
        loader.mark(org_source)
    for decree_file in decree_files:
        loader.source = f"{folder.name}/{decree_file.name}"
        _load_decree(loader, agency_data.code, _read_yaml(decree_file))
        loader.mark(loader.source)


def _codes(session: Session, model: type[Unit] | type[Position], agency_id: int) -> dict[Any, str]:
    """The codes of the agency's units or positions, by id."""
    return dict(
        session.exec(select(model.id, model.code).where(model.agency_id == agency_id)).all()
    )


def _load_organization(
    loader: _Loader, data: AgencyCreate, agency: Agency | None, org: Mapping[str, Any]
) -> None:
    session = loader.session
    with loader.entry(f"agency {data.code}"):
        agency = loader.put(
            "agency",
            agency,
            data,
            create=lambda new: session.get(Agency, organization.create_agency(session, new).id),
            update=organization.update_agency,
            patch=AgencyUpdate,
            base=AgencyBase,
        )
    assert agency is not None
    agency_id = id_of(agency)
    units = {u.code: u for u in session.exec(select(Unit).where(Unit.agency_id == agency_id))}
    new_units = organization.NewUnits(session, agency)
    for entry in _entries(org, "units", loader.source):
        with loader.entry(f"unit {entry.get('code')}"):
            unit = UnitCreate.model_validate(entry | {"agency": data.code})
            loader.put(
                "unit",
                units.get(unit.code),
                unit,
                create=new_units.add,
                update=organization.update_unit,
                patch=UnitUpdate,
                base=UnitBase,
                new=new_units,
            )
    with loader.entry("units"):
        new_units.write()
    unit_codes = _codes(session, Unit, agency_id)
    positions = agency_positions(session, agency_id)
    position_codes: dict[Any, str] = {p.id: code for code, p in positions.items()}
    new_positions = organization.NewPositions(session, agency)
    for entry in _entries(org, "positions", loader.source):  # superiors are listed first
        with loader.entry(f"position {entry.get('code')}"):
            position = PositionCreate.model_validate(entry | {"agency": data.code})
            row = positions.get(position.code)
            loader.put(
                "position",
                row,
                position,
                create=new_positions.add,
                update=organization.update_position,
                patch=PositionUpdate,
                base=PositionBase,
                references={
                    "unit": unit_codes.get(row.unit_id),
                    "superior": position_codes.get(row.superior_id),
                }
                if row
                else None,
                new=new_positions,
            )
    with loader.entry("positions"):
        new_positions.write()


def _load_variables(loader: _Loader, agency_code: str, data: Any) -> None:
    session = loader.session
    agency = session.exec(select(Agency).where(Agency.code == agency_code)).one()
    rows = {
        v.code: v for v in session.exec(select(Variable).where(Variable.agency_id == agency.id))
    }
    unit_codes = _codes(session, Unit, id_of(agency))
    new_variables = variables.NewVariables(session, agency)
    for entry in _entries(data, "variables", loader.source):
        with loader.entry(f"variable {entry.get('code')}"):
            variable = VariableCreate.model_validate(entry | {"agency": agency_code})
            row = rows.get(variable.code)
            loader.put(
                "variable",
                row,
                variable,
                create=new_variables.add,
                update=variables.update_variable,
                patch=VariableUpdate,
                base=VariableBase,
                references={"owner_unit": unit_codes.get(row.owner_unit_id)} if row else None,
                new=new_variables,
            )
    with loader.entry("variables"):
        new_variables.write()


def _load_decree(loader: _Loader, agency_code: str, data: Any) -> None:
    """Load one SK, its references resolved by code among the agency's rows as they are."""
    session = loader.session
    header = data.get("decree") if isinstance(data, Mapping) else None
    if not isinstance(header, Mapping):
        raise InvalidInput(f"Seed {loader.source}: 'decree' must describe the SK")
    agency = session.exec(select(Agency).where(Agency.code == agency_code)).one()
    with loader.entry("decree"):
        decree_data = DecreeCreate.model_validate(dict(header) | {"agency": agency_code})
        decree_id = id_of(
            loader.put(
                "decree",
                # By number: the SK's identity, whatever year an admin gave it since.
                session.exec(
                    select(Decree).where(
                        Decree.agency_id == agency.id, Decree.number == decree_data.number
                    )
                ).first(),
                decree_data,
                create=lambda new: decrees.create_decree(session, new),
                update=decrees.update_decree,
                patch=DecreeUpdate,
                base=DecreeBase,
            )
        )
    decree = session.get(Decree, decree_id)
    assert decree is not None
    positions = {code: ident for ident, code in _codes(session, Position, id_of(agency)).items()}
    stored_objectives = {
        (o.position_id, o.number): o
        for o in session.exec(select(Objective).where(Objective.decree_id == decree_id))
    }
    new_objectives = objectives.NewObjectives(session, decree)
    loaded: list[tuple[Objective, list[dict[str, Any]]]] = []
    for entry in _entries(data, "objectives", loader.source):
        with loader.entry(f"objective {entry.get('position')}.{entry.get('number')}"):
            items = entry.pop("indicators", [])
            objective = ObjectiveCreate.model_validate(entry | {"decree_id": decree_id})
            row = loader.put(
                "objective",
                stored_objectives.get((positions.get(objective.position) or 0, objective.number)),
                objective,
                create=new_objectives.add,
                update=objectives.update_objective,
                patch=ObjectiveUpdate,
                base=ObjectiveBase,
                new=new_objectives,
            )
            loaded.append((row, _entries({"indicators": items}, "indicators", loader.source)))
    with loader.entry("objectives"):
        new_objectives.write()
    stored_indicators = {
        i.code: i for i in session.exec(select(Indicator).where(Indicator.decree_id == decree_id))
    }
    new_indicators = indicators.NewIndicators(session, decree)
    for objective_row, items in loaded:
        for item in items:
            with loader.entry(f"indicator {item.get('code')}"):
                item["objective_id"] = id_of(objective_row)
                _load_indicator(loader, stored_indicators, new_indicators, item)
    with loader.entry("indicators"):
        new_indicators.write()


def _load_indicator(
    loader: _Loader,
    stored: Mapping[str, Indicator],
    new_indicators: indicators.NewIndicators,
    entry: dict[str, Any],
) -> None:
    session = loader.session
    indicator = IndicatorCreate.model_validate(entry)  # a parent is listed before its children
    row = stored.get(indicator.code)
    references = None
    if row is None:
        loader.report.created["indicator_source_unit"] += len(set(indicator.source_units))
    else:
        parent = session.get(Indicator, row.parent_id) if row.parent_id else None
        sources = session.exec(
            select(Unit.code)
            .join(IndicatorSourceUnit, IndicatorSourceUnit.unit_id == Unit.id)  # type: ignore[arg-type]
            .where(IndicatorSourceUnit.indicator_id == row.id)
        ).all()
        references = {
            "objective_id": row.objective_id,
            "parent": parent.code if parent else None,
            # The same units in another order are no change.
            "source_units": indicator.source_units
            if set(sources) == set(indicator.source_units)
            else list(sources),
        }
    loader.put(
        "indicator",
        row,
        indicator,
        create=new_indicators.add,
        update=indicators.update_indicator,
        patch=IndicatorUpdate,
        base=IndicatorBase,
        references=references,
        new=new_indicators,
    )
