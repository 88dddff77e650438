"""The seed files loaded so far."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import timestamp_field


class SeedLoad(SQLModel, table=True):
    """A seed file that has been loaded: it is not loaded again (unless `iki seed --update`),
    so codes an admin renamed since are not created anew."""

    __tablename__ = "seed_load"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=255, unique=True, description="Path below seed/")
    loaded_at: datetime = timestamp_field()
