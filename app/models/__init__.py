"""Tables and schemas. Importing this package registers every table on SQLModel.metadata."""

from sqlmodel import SQLModel

from app.achievement.aggregation import Aggregation
from app.achievement.polarity import Polarity
from app.models.audit import AuditEvent
from app.models.base import never_reuse_ids
from app.models.data import DataValue, Target
from app.models.decrees import Decree
from app.models.indicators import Indicator, IndicatorSourceUnit
from app.models.objectives import Objective
from app.models.organization import Agency, Position, Unit
from app.models.people import Person, PersonSession, PersonUnit
from app.models.quality import QualityRule
from app.models.rating_scales import RatingScale
from app.models.seals import SealedFigure
from app.models.security import ROLE_CAPABILITIES, ApiKey, ApiKeyUnit, Capability, Role
from app.models.seed import SeedLoad
from app.models.variables import ValueType, Variable
from app.models.webhooks import (
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from app.models.workflow import Period, PeriodState

never_reuse_ids(SQLModel.metadata)  # after every table above is declared

__all__ = [
    "ROLE_CAPABILITIES",
    "Agency",
    "Aggregation",
    "ApiKey",
    "ApiKeyUnit",
    "AuditEvent",
    "Capability",
    "DataValue",
    "Decree",
    "DeliveryState",
    "Indicator",
    "IndicatorSourceUnit",
    "Objective",
    "Period",
    "PeriodState",
    "Person",
    "PersonSession",
    "PersonUnit",
    "Polarity",
    "Position",
    "QualityRule",
    "RatingScale",
    "Role",
    "SealedFigure",
    "SeedLoad",
    "Target",
    "Unit",
    "ValueType",
    "Variable",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookSubscription",
]
