"""Capaian: pure functions from stored values to achievements (no FastAPI, no database).

For indicator I, year Y and quarter q (DESIGN.md, "Achievement"):
1. the quarter realization is the formula over the variables' values of quarter q;
2. the year-to-date realization aggregates each variable over quarters 1..q by its own
   aggregation first, then applies the formula once (a ratio of sums, never an average of
   ratios);
3. the target is the one set for (Y, q), else the annual one;
4. the achievement follows the polarity; 5. a rating band; 6. an explicit status.
"""

from app.achievement.compute import (
    Achievement,
    AchievementStatus,
    IndicatorSpec,
    achievement_percent,
    aggregate,
    compute,
    year_to_date,
)
from app.achievement.rating import DEFAULT_BANDS, Band, Rating, rate
from app.achievement.verification import MIXED, quarters_needed, verification

__all__ = [
    "DEFAULT_BANDS",
    "MIXED",
    "Achievement",
    "AchievementStatus",
    "Band",
    "IndicatorSpec",
    "Rating",
    "achievement_percent",
    "aggregate",
    "compute",
    "quarters_needed",
    "rate",
    "verification",
    "year_to_date",
]
