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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    QualityRule,
    RatingScale,
    SeedLoad,
    Unit,
    Variable,
)
from app.models.decrees import DecreeBase
from app.models.indicators import IndicatorBase
from app.models.objectives import ObjectiveBase
from app.models.organization import AgencyBase, PositionBase, UnitBase
from app.models.quality import QualityRuleBase
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
from app.schemas.quality import QualityRuleCreate, QualityRuleUpdate
from app.schemas.rating_scales import RatingScalePut
from app.schemas.variables import VariableCreate, VariableUpdate
from app.services import (
    decrees,
    indicators,
    objectives,
    organization,
    quality_rules,
    rating_scales,
    variables,
)
from app.services.common import NewRows, agency_positions, id_of

M = TypeVar("M", bound=BaseModel)
MAX_SOURCE = 255  # SeedLoad.source


class SeedReport(BaseModel):
    """What a seed run did, per table: rows created, updated and left unchanged."""

    created: Counter[str] = Field(default_factory=Counter)
    updated: Counter[str] = Field(default_factory=Counter)
    unchanged: Counter[str] = Field(default_factory=Counter)
    loaded: list[str] = Field(default_factory=list, description="Seed files loaded now")

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser when PyYAML has it: several times faster)
    that refuses a key given twice in one mapping, which YAML forbids and PyYAML would
    read as its last value: a seed would then silently drop what the SK says."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                twice = key in seen
            except TypeError:  # an unhashable key: the base class says so
                break
            if twice:
                raise yaml.constructor.ConstructorError(
                    "in a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        try:
            return yaml.load(handle, Loader=_YamlLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise InvalidInput(f"Seed {path.name}: not valid YAML{where}: {problem}") from exc


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


@dataclass(frozen=True)
class _Kind:
    """A kind of row as the seed writes it: through the API's bodies and services."""

    table: str
    create: type[SQLModel]  # the POST body an entry is validated with
    patch: type[SQLModel]  # the PATCH body of what differs
    base: type[SQLModel]  # the fields compared with a row that exists
    update: Callable[[Session, int, Any], Any]  # the update service

    def label(self, entry: Mapping[str, Any]) -> str:
        """An entry as a refusal names it: its kind and code."""
        return f"{self.table} {entry.get('code')}"


AGENCY = _Kind("agency", AgencyCreate, AgencyUpdate, AgencyBase, organization.update_agency)
UNIT = _Kind("unit", UnitCreate, UnitUpdate, UnitBase, organization.update_unit)
POSITION = _Kind(
    "position", PositionCreate, PositionUpdate, PositionBase, organization.update_position
)
VARIABLE = _Kind(
    "variable", VariableCreate, VariableUpdate, VariableBase, variables.update_variable
)
DECREE = _Kind("decree", DecreeCreate, DecreeUpdate, DecreeBase, decrees.update_decree)
QUALITY_RULE = _Kind(
    "quality_rule",
    QualityRuleCreate,
    QualityRuleUpdate,
    QualityRuleBase,
    quality_rules.update_rule,
)


class _ObjectiveKind(_Kind):
    def label(self, entry: Mapping[str, Any]) -> str:
        return f"objective {entry.get('position')}.{entry.get('number')}"


OBJECTIVE = _ObjectiveKind(
    "objective", ObjectiveCreate, ObjectiveUpdate, ObjectiveBase, objectives.update_objective
)
INDICATOR = _Kind(
    "indicator", IndicatorCreate, IndicatorUpdate, IndicatorBase, indicators.update_indicator
)


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
        if len(source) > MAX_SOURCE:
            # Checked here, not left to the column: PostgreSQL would refuse it, SQLite keep it.
            raise InvalidInput(
                f"Seed {source[:100]}...: a seed file's path below the seed folder has at most "
                f"{MAX_SOURCE} characters"
            )
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
        kind: _Kind,
        row: SQLModel | None,
        data: SQLModel,
        *,
        create: Callable[[Any], Any],
        references: Mapping[str, Any] | None = None,
        new: NewRows[Any, Any] | None = None,
    ) -> Any:
        """Create the row from `data` with `create` (a service, or the `add` of the service's
        new rows `new`), or (when updating) apply what differs with the kind's update
        service; what `create` answers, or the row."""
        if row is None:
            self.report.created[kind.table] += 1
            return create(data)
        changes = (
            _differences(data, row, kind.base, references or {}) if self.update_existing else {}
        )
        if changes:
            if new is not None:
                new.write()  # the change may refer to a row created before it
            kind.update(self.session, id_of(row), kind.patch.model_validate(changes))
            self.report.updated[kind.table] += 1
        else:
            self.report.unchanged[kind.table] += 1
        return row

    def put_all(
        self,
        kind: _Kind,
        entries: Sequence[Mapping[str, Any]],
        new: NewRows[Any, Any],
        stored: Callable[[Any], SQLModel | None],
        *,
        given: Mapping[str, Any] = {},
        references: Callable[[Any, Any], Mapping[str, Any]] | None = None,
        create: Callable[[Any], Any] | None = None,
    ) -> list[Any]:
        """`put` each entry (with the references it is `given`, e.g. its agency): a new row
        through `new` (its `add`, or `create`, which adds), all of them written together at
        the end; `stored` finds the row an entry's data names, and `references` (of the row
        and the data) what it refers to."""
        rows = []
        for entry in entries:
            with self.entry(kind.label(entry)):
                data = kind.create.model_validate(dict(entry) | dict(given))
                row = stored(data)
                rows.append(
                    self.put(
                        kind,
                        row,
                        data,
                        create=create or new.add,
                        references=references(row, data) if row and references else None,
                        new=new,
                    )
                )
        with self.entry(f"{kind.table}s"):
            new.write()
        return rows


def load_seed(session: Session, seed_dir: Path, *, update_existing: bool = False) -> SeedReport:
    """Load the seed files under `seed_dir` that were never loaded (the caller commits).

    A file is loaded once: running the seed at every start never undoes an admin's edit nor
    brings back a code an admin renamed. `update_existing` loads every file again and applies
    its values over the rows that exist."""
    if not seed_dir.is_dir():
        raise InvalidInput(f"The seed folder {str(seed_dir)[:200]} does not exist")
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
    rules_source = f"{folder.name}/{RULES_FILE}"
    rules_due = (folder / RULES_FILE).exists() and loader.due(rules_source)
    if not loader.due(org_source) and not decree_files and not rules_due:
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
    if rules_due:  # over the variables, loaded above or before
        loader.source = rules_source
        _load_quality_rules(loader, agency_data.code, _read_yaml(folder / RULES_FILE))
        loader.mark(rules_source)


RULES_FILE = "quality-rules.yaml"
"""An agency's data-quality rules written by people, beside its variables."""


def _load_quality_rules(loader: _Loader, agency_code: str, data: Any) -> None:
    session = loader.session
    agency = session.exec(select(Agency).where(Agency.code == agency_code)).one()
    rows = {
        r.code: r
        for r in session.exec(select(QualityRule).where(QualityRule.agency_id == agency.id))
    }
    loader.put_all(
        QUALITY_RULE,
        _entries(data, "rules", loader.source),
        quality_rules.NewQualityRules(session, agency),
        lambda r: rows.get(r.code),
        given={"agency": agency_code},
    )


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
            AGENCY,
            agency,
            data,
            create=lambda new: session.get(Agency, organization.create_agency(session, new).id),
        )
    assert agency is not None
    agency_id = id_of(agency)
    units = {u.code: u for u in session.exec(select(Unit).where(Unit.agency_id == agency_id))}
    given = {"agency": data.code}
    loader.put_all(
        UNIT,
        _entries(org, "units", loader.source),
        organization.NewUnits(session, agency),
        lambda u: units.get(u.code),
        given=given,
    )
    unit_codes = _codes(session, Unit, agency_id)
    positions = agency_positions(session, agency_id)
    position_codes: dict[Any, str] = {p.id: code for code, p in positions.items()}
    loader.put_all(
        POSITION,
        _entries(org, "positions", loader.source),  # superiors are listed first
        organization.NewPositions(session, agency),
        lambda p: positions.get(p.code),
        given=given,
        references=lambda row, _: {
            "unit": unit_codes.get(row.unit_id),
            "superior": position_codes.get(row.superior_id),
        },
    )


def _load_variables(loader: _Loader, agency_code: str, data: Any) -> None:
    session = loader.session
    agency = session.exec(select(Agency).where(Agency.code == agency_code)).one()
    rows = {
        v.code: v for v in session.exec(select(Variable).where(Variable.agency_id == agency.id))
    }
    unit_codes = _codes(session, Unit, id_of(agency))
    loader.put_all(
        VARIABLE,
        _entries(data, "variables", loader.source),
        variables.NewVariables(session, agency),
        lambda v: rows.get(v.code),
        given={"agency": agency_code},
        references=lambda row, _: {"owner_unit": unit_codes.get(row.owner_unit_id)},
    )


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
                DECREE,
                # By number: the SK's identity, whatever year an admin gave it since.
                session.exec(
                    select(Decree).where(
                        Decree.agency_id == agency.id, Decree.number == decree_data.number
                    )
                ).first(),
                decree_data,
                create=lambda new: decrees.create_decree(session, new),
            )
        )
    decree = session.get(Decree, decree_id)
    assert decree is not None
    positions = {code: ident for ident, code in _codes(session, Position, id_of(agency)).items()}
    stored_objectives = {
        (o.position_id, o.number): o
        for o in session.exec(select(Objective).where(Objective.decree_id == decree_id))
    }
    entries = _entries(data, "objectives", loader.source)
    items = []
    for entry in entries:
        with loader.entry(OBJECTIVE.label(entry)):
            listed = entry.pop("indicators", [])
            items.append(_entries({"indicators": listed}, "indicators", loader.source))
    rows = loader.put_all(
        OBJECTIVE,
        entries,
        objectives.NewObjectives(session, decree),
        lambda o: stored_objectives.get((positions.get(o.position) or 0, o.number)),
        given={"decree_id": decree_id},
    )
    stored_indicators = {
        i.code: i for i in session.exec(select(Indicator).where(Indicator.decree_id == decree_id))
    }
    new_indicators = indicators.NewIndicators(session, decree)

    def create_indicator(indicator: IndicatorCreate) -> Indicator:
        loader.report.created["indicator_source_unit"] += len(set(indicator.source_units))
        return new_indicators.add(indicator)

    loader.put_all(
        INDICATOR,
        # a parent is listed before its children
        [
            item | {"objective_id": id_of(row)}
            for row, listed in zip(rows, items, strict=True)
            for item in listed
        ],
        new_indicators,
        lambda i: stored_indicators.get(i.code),
        references=lambda row, indicator: _indicator_references(session, row, indicator),
        create=create_indicator,
    )


def _indicator_references(
    session: Session, row: Indicator, indicator: IndicatorCreate
) -> dict[str, Any]:
    """What a stored indicator refers to, as the seed's entry would name it."""
    parent = session.get(Indicator, row.parent_id) if row.parent_id else None
    sources = session.exec(
        select(Unit.code)
        .join(IndicatorSourceUnit, IndicatorSourceUnit.unit_id == Unit.id)  # type: ignore[arg-type]
        .where(IndicatorSourceUnit.indicator_id == row.id)
    ).all()
    return {
        "objective_id": row.objective_id,
        "parent": parent.code if parent else None,
        # The same units in another order are no change.
        "source_units": indicator.source_units
        if set(sources) == set(indicator.source_units)
        else list(sources),
    }
