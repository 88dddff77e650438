"""Small helpers shared by the API tests."""

import uuid
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from sqlmodel import Session, select

from app.models import Indicator
from app.schemas.achievements import AchievementPublic

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["title"] and body["detail"]
    return body


def request_id(label: str) -> str:
    """A plain request id (32 hex digits, as the service keeps a client's), named by
    `label`: the same label, the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"iki-test:{label}").hex


def indicator_id(session: Session, code: str) -> int:
    indicator = session.exec(select(Indicator).where(Indicator.code == code)).one()
    assert indicator.id is not None
    return indicator.id


ACHIEVEMENTS = TypeAdapter(list[AchievementPublic])


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (`Model` or `Model | None`), if any."""
    if get_origin(annotation) in (Union, UnionType):
        found = [nested_model(a) for a in get_args(annotation)]
        return next((m for m in found if m), None)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def assert_exact_fields(model: type[BaseModel], item: dict[str, Any], where: str = "") -> None:
    """`item` has every field of `model` (defaulted ones too) and no other key, in the
    model's order, and so have the items of its nested models: what the model would answer."""
    assert list(item) == list(model.model_fields), f"{where}: {list(item)}"
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        if nested is not None and item[name] is not None:
            assert_exact_fields(nested, item[name], f"{where}.{name}")


def assert_achievements(items: list[dict[str, Any]]) -> None:
    """Items that are `AchievementPublic`s exactly: valid as `list[AchievementPublic]`, no key
    the schema lacks, no field (required or defaulted) missing, and the same once dumped."""
    assert items
    models = ACHIEVEMENTS.validate_python(items)
    for index, item in enumerate(items):
        assert_exact_fields(AchievementPublic, item, f"items[{index}]")
    assert ACHIEVEMENTS.dump_python(models, mode="json") == items


def csv_columns(model: type[BaseModel], prefix: str = "") -> list[str]:
    """A model's fields flattened as CSV columns: a nested model's as `<field>_<name>`."""
    columns: list[str] = []
    for name, field in model.model_fields.items():
        nested = nested_model(field.annotation)
        columns += csv_columns(nested, f"{prefix}{name}_") if nested else [prefix + name]
    return columns
