"""The achievement rules as pure functions, without a database."""

import math
import subprocess
import sys

import pytest

from app.achievement import (
    AGGREGATIONS,
    ANNUAL,
    DEFAULT_BANDS,
    POLARITIES,
    AchievementStatus,
    Aggregation,
    IndicatorSpec,
    Polarity,
    achievement_percent,
    aggregate,
    compute,
    quarters_needed,
    rate,
    target_for,
    year_to_date,
)
from app.achievement.rating import Band, sorted_bands
from app.formula import parse

RATIO = IndicatorSpec(
    parse("done / total * 100"), {"done": Aggregation.sum, "total": Aggregation.last}
)
SUMS = IndicatorSpec(
    parse("handled / received * 100"), {"handled": Aggregation.sum, "received": Aggregation.sum}
)


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("sum", 60.0), ("last", 30.0), ("max", 30.0), ("min", 10.0), ("avg", 20.0)],
)
def test_aggregations(aggregation, expected):
    assert aggregate(aggregation, [10.0, 20.0, 30.0]) == expected


def test_unknown_aggregation_is_refused():
    with pytest.raises(ValueError):
        aggregate("median", [1.0])


@pytest.mark.parametrize(
    ("aggregation", "values", "quarter", "expected"),
    [
        pytest.param("sum", {1: 5.0, 2: 7.0, 3: 1.0}, 3, 13.0, id="flow-every-quarter"),
        pytest.param("sum", {1: 5.0, 3: 1.0}, 3, None, id="flow-needs-every-quarter"),
        pytest.param("sum", {1: 5.0, 2: 7.0, 3: 1.0}, 2, 12.0, id="flow-up-to-the-quarter"),
        pytest.param("last", {1: 100.0, 3: 120.0}, 3, 120.0, id="stock-is-the-quarters-own"),
        pytest.param("last", {1: 100.0, 2: 110.0}, 3, None, id="stock-needs-its-quarter"),
    ],
)
def test_year_to_date(aggregation, values, quarter, expected):
    assert year_to_date(aggregation, values, quarter) == expected


def test_ratio_of_sums_not_average_of_ratios():
    data = {"handled": {1: 10.0, 2: 90.0}, "received": {1: 20.0, 2: 100.0}}
    result = compute(SUMS, data, 2, 100.0, DEFAULT_BANDS)
    assert result.realization == pytest.approx(100 / 120 * 100)
    assert result.realization != pytest.approx((50 + 90) / 2)
    assert result.quarter_realization == pytest.approx(90.0)
    assert result.values == {"handled": 100.0, "received": 120.0}
    assert result.quarter_values == {"handled": 90.0, "received": 100.0}


HIGHER, LOWER = Polarity.higher_is_better, Polarity.lower_is_better


@pytest.mark.parametrize(
    ("realization", "target", "polarity", "expected"),
    [
        (32, 40, HIGHER, 80.0),
        (50, 40, HIGHER, 125.0),
        (32, 40, LOWER, 120.0),
        (40, 40, LOWER, 100.0),
        (100, 40, LOWER, 0.0),  # floored at 0
        (0, 0, HIGHER, None),
        (0, 0, LOWER, None),
    ],
)
def test_achievement_by_polarity(realization, target, polarity, expected):
    assert achievement_percent(realization, target, polarity) == expected


def test_every_aggregation_and_polarity_has_its_rule():
    assert set(AGGREGATIONS) == set(Aggregation)
    assert set(POLARITIES) == set(Polarity)
    assert [a for a in Aggregation if AGGREGATIONS[a].stock] == [Aggregation.last]


@pytest.mark.parametrize(
    ("aggregation", "needed"),
    [(Aggregation.sum, (1, 2, 3)), (Aggregation.avg, (1, 2, 3)), (Aggregation.last, (3,))],
)
def test_quarters_a_year_to_date_rests_on(aggregation, needed):
    assert quarters_needed(aggregation, 3) == needed


def test_unknown_polarity_is_refused():
    with pytest.raises(ValueError):
        achievement_percent(1, 2, "sideways")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ({2: 30.0, ANNUAL: 40.0}, 30.0),
        ({1: 30.0, ANNUAL: 40.0}, 40.0),
        ({2: 0.0, ANNUAL: 40.0}, 0.0),  # a zero target is set: it does not fall back
        ({1: 30.0}, None),
        ({}, None),
    ],
)
def test_a_quarter_is_measured_against_its_own_target_else_the_annual_one(targets, expected):
    assert target_for(targets, 2) == expected


@pytest.mark.parametrize(
    ("percent", "code"),
    [
        (150, "sangat_tinggi"),
        (91, "sangat_tinggi"),
        (90.99, "tinggi"),
        (76, "tinggi"),
        (75.5, "sedang"),
        (66, "sedang"),
        (65, "rendah"),
        (51, "rendah"),
        (50.99, "sangat_rendah"),
        (0, "sangat_rendah"),
    ],
)
def test_default_rating_scale(percent, code):
    rating = rate(percent, DEFAULT_BANDS)
    assert rating is not None and rating.code == code


def test_rating_of_nothing_is_nothing_and_bands_sort_highest_first():
    assert rate(None, DEFAULT_BANDS) is None
    shuffled = [DEFAULT_BANDS[4], DEFAULT_BANDS[0], DEFAULT_BANDS[2], DEFAULT_BANDS[1]]
    assert [b.code for b in sorted_bands(shuffled)] == [
        "sangat_tinggi",
        "tinggi",
        "sedang",
        "sangat_rendah",
    ]
    assert Band.from_mapping({"min": "80", "code": "a", "label": "A"}).min == 80.0


@pytest.mark.parametrize(
    ("data", "target", "status", "reason", "realization", "missing"),
    [
        pytest.param({}, 50.0, "no_data", "no_values", None, ["done", "total"], id="no-data"),
        pytest.param(
            {"done": {1: 4.0}}, 50.0, "partial_data", "missing_values", None, ["total"],
            id="partial-data-names-the-missing-variables",
        ),
        pytest.param(
            {"done": {1: 0.0}, "total": {1: 0.0}}, 50.0, "undefined", "division_by_zero", None, [],
            id="undefined-on-zero-denominator",
        ),
        pytest.param(
            {"done": {1: 1.0}, "total": {1: 2.0}}, 0.0, "undefined", "zero_target", 50.0, [],
            id="undefined-on-zero-target",
        ),
        pytest.param(
            {"done": {1: 1.0}, "total": {1: 4.0}}, None, "no_target", "no_target", 25.0, [],
            id="no-target-keeps-the-realization",
        ),
    ],
)  # fmt: skip
def test_status_without_an_achievement(data, target, status, reason, realization, missing):
    result = compute(RATIO, data, 1, target, DEFAULT_BANDS)

    assert result.status == AchievementStatus(status)
    assert result.reason == reason
    assert result.realization == realization
    assert result.missing_variables == missing
    assert result.achievement is None and result.rating is None


def test_status_ok_and_float_noise_is_cleaned():
    spec = IndicatorSpec(parse("a + b"), {"a": Aggregation.sum, "b": Aggregation.sum})
    result = compute(spec, {"a": {1: 0.1}, "b": {1: 0.2}}, 1, 0.3, DEFAULT_BANDS)
    assert result.status == AchievementStatus.ok
    assert result.realization == 0.3
    assert result.achievement == 100.0
    assert result.rating is not None and result.rating.code == "sangat_tinggi"
    assert math.isfinite(result.achievement)


def test_the_package_stays_pure():
    """`app.achievement` (and the enums it holds for the tables) imports no web or database
    layer: a fresh interpreter that imports it has loaded none of them."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, app.achievement; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    layers = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "pydantic")
    assert [m for m in loaded if m.split(".")[0] in layers] == []
    assert "app.achievement.aggregation" in loaded
