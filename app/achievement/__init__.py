"""Capaian: pure functions from stored values to achievements (no FastAPI, no database).

For indicator I, year Y and quarter q (DESIGN.md, "Achievement"):
1. the quarter realization is the formula over the variables' values of quarter q;
2. the year-to-date realization aggregates each variable over quarters 1..q by its own
   aggregation first, then applies the formula once (a ratio of sums, never an average of
   ratios);
3. the target is the one set for (Y, q), else the annual one (`target_for`);
4. the achievement follows the polarity; 5. a rating band; 6. an explicit status.

Aggregations and polarities are tables (`AGGREGATIONS`, `POLARITIES`): one entry per member.
"""

from app.achievement.aggregation import (
    AGGREGATIONS,
    Aggregation,
    AggregationRule,
    aggregate,
    quarters_needed,
    year_to_date,
)
from app.achievement.compute import (
    ANNUAL,
    Achievement,
    AchievementStatus,
    IndicatorSpec,
    compute,
    target_for,
)
from app.achievement.polarity import POLARITIES, Polarity, achievement_percent
from app.achievement.rating import DEFAULT_BANDS, Band, Rating, rate
from app.achievement.verification import MIXED, verification

__all__ = [
    "AGGREGATIONS",
    "ANNUAL",
    "DEFAULT_BANDS",
    "MIXED",
    "POLARITIES",
    "Achievement",
    "AchievementStatus",
    "Aggregation",
    "AggregationRule",
    "Band",
    "IndicatorSpec",
    "Polarity",
    "Rating",
    "achievement_percent",
    "aggregate",
    "compute",
    "quarters_needed",
    "rate",
    "target_for",
    "verification",
    "year_to_date",
]
