"""Tables and schemas. Importing this package registers every table on SQLModel.metadata."""

from app.models.data import DataValue, RatingScale, SeedLoad, Target
from app.models.definitions import (
    Aggregation,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Polarity,
    ValueType,
    Variable,
)
from app.models.org import Agency, Position, Unit
from app.models.security import ApiKey, ApiKeyUnit, Role

__all__ = [
    "Agency",
    "Aggregation",
    "ApiKey",
    "ApiKeyUnit",
    "DataValue",
    "Decree",
    "Indicator",
    "IndicatorSourceUnit",
    "Objective",
    "Polarity",
    "Position",
    "RatingScale",
    "Role",
    "SeedLoad",
    "Target",
    "Unit",
    "ValueType",
    "Variable",
]
