"""Rating scales: the bands that turn an achievement percentage into a rating."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import timestamp_field


class RatingScale(SQLModel, table=True):
    """Bands that turn an achievement percentage into a rating (e.g. Permendagri 86/2017)."""

    __tablename__ = "rating_scale"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    is_default: bool = Field(default=False)
    bands: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
