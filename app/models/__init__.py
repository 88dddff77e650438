"""Tables and schemas. Importing this package registers every table on SQLModel.metadata."""

from app.achievement.aggregation import Aggregation
from app.achievement.polarity import Polarity
from app.models.audit import AuditEvent
from app.models.data import DataValue, Target
from app.models.decrees import Decree, Indicator, IndicatorSourceUnit, Objective
from app.models.organization import Agency, Position, Unit
from app.models.rating_scales import RatingScale
from app.models.security import ApiKey, ApiKeyUnit, Role
from app.models.seed import SeedLoad
from app.models.variables import ValueType, Variable
from app.models.workflow import Period, PeriodState

__all__ = [
    "Agency",
    "Aggregation",
    "ApiKey",
    "ApiKeyUnit",
    "AuditEvent",
    "DataValue",
    "Decree",
    "Indicator",
    "IndicatorSourceUnit",
    "Objective",
    "Period",
    "PeriodState",
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
