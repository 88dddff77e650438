"""Every field of every entity's Base is stored on create and on update, and answered as sent.

The README promises that a new field goes into its entity's `XBase` (and a migration) and
nothing else: these tests walk each Base's fields, so a field that a service or a view forgets
fails here without a test of its own. A value is made for each field from its annotation and
limits; only fields that need a rule of the service (a formula over the agency's variables)
are named.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import pkgutil
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python
from sqlmodel import Session, SQLModel, select

import app.models
from app.core.types import INDICATOR_CODE_PATTERN, ORG_CODE_PATTERN, VARIABLE_CODE_PATTERN
from app.models import Decree, Objective, Position
from app.models.decrees import DecreeBase
from app.models.indicators import IndicatorBase
from app.models.objectives import ObjectiveBase
from app.models.organization import AgencyBase, PositionBase, UnitBase
from app.models.quality import QualityRuleBase
from app.models.variables import VariableBase
from app.models.webhooks import WebhookSubscriptionBase

# A valid text for each code pattern; `{n}` tells the create's value from the update's.
CODES = {
    ORG_CODE_PATTERN: "FIELD_TEST_{n}",
    VARIABLE_CODE_PATTERN: "field_test_{n}",
    INDICATOR_CODE_PATTERN: "KADIS.9.{n}",
}
# Fields whose valid values a service rule decides, not their type.
BY_NAME: dict[str, tuple[Any, Any]] = {
    "formula": ("psks_diberdayakan / psks_terdata * 100", "psks_terdata + ppks_terdata"),
    "left": ("psks_diberdayakan", "psks_berpartisipasi + 1"),
    "right": ("psks_terdata", "ppks_terdata * 2"),
    # A public address written as such: checked without a name to resolve.
    "url": ("https://93.184.216.34/iki/hook-1", "http://93.184.216.34:8080/iki/hook-2"),
    "events": (["period.submitted", "achievements.verified"], ["period.verified"]),
}


def _constraint(field: FieldInfo, kind: type, attribute: str) -> Any:
    for item in field.metadata:
        if isinstance(item, kind):
            return getattr(item, attribute)
    return None


def _pattern(field: FieldInfo) -> str | None:
    return next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)


def _unwrap(annotation: Any) -> Any:
    """The type of a field without `| None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert len(kinds) == 1, annotation
        return kinds[0]
    return annotation


def value_for(name: str, field: FieldInfo, n: int) -> Any:
    """A valid value of the field, different for n = 1 (create) and n = 2 (update) and from
    its default."""
    if name in BY_NAME:
        return BY_NAME[name][n - 1]
    kind = _unwrap(field.annotation)
    if typing.get_origin(kind) is typing.Annotated:  # `Limited | None`: the limits are inside
        inner = FieldInfo.from_annotation(kind)
        inner.default = field.default
        return value_for(name, inner, n)
    if kind is bool:
        return n == 1 if field.default is False else n != 1
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        members = sorted(kind, key=lambda member: member == field.default)  # the default last
        return members[(n - 1) % len(members)].value
    if kind is int:
        low = _constraint(field, annotated_types.Ge, "ge") or 0
        high = _constraint(field, annotated_types.Le, "le") or low + 1000
        return (low + high) // 2 + n
    if kind is float:
        return 2.5 * n
    if kind is dt.date:
        return f"2024-0{n}-1{n}"
    if kind is str:
        pattern = _pattern(field)
        if pattern is not None:
            return CODES[pattern].format(n=n)
        longest = _constraint(field, annotated_types.MaxLen, "max_length") or 100
        return f"Uji {name} {n}"[:longest]
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return [value_for(name, FieldInfo.from_annotation(item), n + i) for i in (0, 10)]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {
            key: value_for(key, inner, n)
            for key, inner in kind.model_fields.items()
            if inner.is_required() or inner.default_factory is not None
        }
    raise AssertionError(f"no value for {name}: {field.annotation}")  # a new kind of field


def values(base: type[SQLModel], n: int) -> dict[str, Any]:
    return {name: value_for(name, field, n) for name, field in base.model_fields.items()}


def _seeded(session: Session, model: type[SQLModel], *where: Any) -> int:
    return session.exec(select(model.id).where(*where)).first()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Entity:
    path: str
    base: type[SQLModel]
    references: Callable[[Session], dict[str, Any]]  # what a create needs besides the Base


def _objective(session: Session) -> dict[str, Any]:
    decree_id = _seeded(session, Decree, Decree.year == 2025)
    kadis = _seeded(session, Position, Position.code == "KADIS")
    return {
        "objective_id": _seeded(
            session, Objective, Objective.decree_id == decree_id, Objective.position_id == kadis
        )
    }


AGENCY = {"agency": "DINSOSP3A"}
ENTITIES = {
    "agency": Entity("agencies", AgencyBase, lambda _: {}),
    "unit": Entity("units", UnitBase, lambda _: AGENCY),
    "position": Entity("positions", PositionBase, lambda _: AGENCY),
    "decree": Entity("decrees", DecreeBase, lambda _: AGENCY),
    "objective": Entity(
        "objectives",
        ObjectiveBase,
        lambda s: {"decree_id": _seeded(s, Decree, Decree.year == 2025), "position": "KADIS"},
    ),
    "indicator": Entity("indicators", IndicatorBase, _objective),
    "variable": Entity("variables", VariableBase, lambda _: AGENCY | {"owner_unit": "BID_PSM"}),
    "quality rule": Entity("quality-rules", QualityRuleBase, lambda _: AGENCY),
    "webhook": Entity("webhooks", WebhookSubscriptionBase, lambda _: AGENCY),
}


def _answered(body: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get(name, "<not answered>") for name in sent}


@pytest.mark.parametrize("name", ENTITIES)
def test_every_field_is_stored_and_answered(client, admin, session, name):
    entity = ENTITIES[name]
    api = f"/api/v1/{entity.path}"
    sent = values(entity.base, 1)
    created = client.post(api, headers=admin, json=sent | entity.references(session))
    assert created.status_code == 201, created.text
    assert _answered(created.json(), sent) == to_jsonable_python(sent)
    one = f"{api}/{created.json()['id']}"
    read = client.get(one, headers=admin)
    assert read.status_code == 200, read.text
    assert _answered(read.json(), sent) == to_jsonable_python(sent)

    changed = values(entity.base, 2)
    assert all(changed[field] != sent[field] for field in sent), "every field changes"
    updated = client.patch(one, headers=admin, json=changed)
    assert updated.status_code == 200, updated.text
    assert _answered(updated.json(), changed) == to_jsonable_python(changed)
    read = client.get(one, headers=admin)
    assert _answered(read.json(), changed) == to_jsonable_python(changed)


def test_every_entity_with_a_base_is_walked():
    """A new entity with a Base gets its entry here (or this fails)."""
    bases = set()
    for module in pkgutil.iter_modules(app.models.__path__):
        found = importlib.import_module(f"app.models.{module.name}")
        bases |= {
            cls
            for cls in vars(found).values()
            if isinstance(cls, type)
            and issubclass(cls, SQLModel)
            and cls.__module__ == found.__name__
            and cls.__name__.endswith("Base")
        }
    assert bases == {entity.base for entity in ENTITIES.values()}
