"""The data-quality rules as tables of plain data: what each finds, and what it leaves alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from app.achievement import Aggregation, Polarity
from app.formula import parse
from app.quality import (
    RULES,
    Finding,
    IndicatorFacts,
    Observation,
    Operator,
    RuleFacts,
    RulePeriod,
    Severity,
    Thresholds,
    UnitQuarter,
    VariableFacts,
    check,
    holds,
    is_proportion,
    robust_score,
)
from app.quality.rules import (
    capaian_far_from_target,
    missing_evidence,
    missing_value,
    numerator_exceeds_denominator,
    outlier,
    rule_violated,
    stock_change,
    zero_denominator,
)

UNIT = "BID_RPJS"
SUM, LAST = Aggregation.sum, Aggregation.last


def variable(
    code: str, aggregation: Aggregation = SUM, *, owner: str = UNIT, evidence: bool = False
) -> VariableFacts:
    return VariableFacts(code, f"Label {code}", aggregation, owner, "orang", evidence)


def indicator(
    formula: str,
    *,
    code: str = "KADIS.1.2",
    name: str = "Persentase PPKS yang direhabilitasi",
    unit: str = "%",
    targets: Mapping[int, float] | None = None,
    polarity: Polarity = Polarity.higher_is_better,
) -> IndicatorFacts:
    return IndicatorFacts(code, name, parse(formula), unit, polarity, targets or {})


def rule(
    left: str,
    op: Operator,
    right: str,
    *,
    period: RulePeriod = RulePeriod.quarter,
    severity: Severity = Severity.error,
) -> RuleFacts:
    return RuleFacts("aturan", "Aturan uji", parse(left), op, parse(right), period, severity)


def observations(values: Mapping[str, Mapping[int, Any]]) -> dict[str, dict[int, Observation]]:
    """`{code: {quarter: value or (value, evidence)}}` as stored observations."""
    return {
        code: {
            q: Observation(*v) if isinstance(v, tuple) else Observation(v)
            for q, v in by_quarter.items()
        }
        for code, by_quarter in values.items()
    }


# The variables of the cases below: rehabilitasi (a flow) over terdata (a stock), as
# KADIS.1.2; a stock of TMP; a flow of another unit.
VARIABLES = {
    v.code: v
    for v in (
        variable("served"),
        variable("registered", LAST),
        variable("other_served"),
        variable("stock", LAST),
        variable("cases"),
        variable("documents", evidence=True),
        variable("foreign", owner="BID_PSM"),
    )
}
KADIS_1_2 = indicator("served / registered * 100")


def quarter_of(
    quarter: int = 1,
    values: Mapping[str, Mapping[int, Any]] | None = None,
    *,
    previous: Mapping[str, Mapping[int, Any]] | None = None,
    indicators: tuple[IndicatorFacts, ...] = (KADIS_1_2,),
    rules: tuple[RuleFacts, ...] = (),
    thresholds: Thresholds | None = None,
) -> UnitQuarter:
    return UnitQuarter(
        unit=UNIT,
        year=2025,
        quarter=quarter,
        variables=VARIABLES,
        values=observations(values or {}),
        previous_year=observations(previous or {}),
        indicators=indicators,
        rules=rules,
        thresholds=thresholds or Thresholds(),
    )


def found(findings: list[Finding]) -> list[tuple[str, Severity, str]]:
    return [(f.code, f.severity, f.key) for f in findings]


# A numerator above its denominator -------------------------------------------------------------

EXCEEDS = (
    "numerator_exceeds_denominator",
    Severity.error,
    "numerator_exceeds_denominator:KADIS.1.2",
)


@pytest.mark.parametrize(
    ("case", "values", "indicators", "expected"),
    [
        pytest.param(
            "67 served of 40 registered (the issue's KADIS.1.2)",
            {"served": {1: 67}, "registered": {1: 40}},
            (KADIS_1_2,),
            [EXCEEDS],
            id="served-above-registered",
        ),
        pytest.param(
            "all registered were served",
            {"served": {1: 40}, "registered": {1: 40}},
            (KADIS_1_2,),
            [],
            id="equal",
        ),
        pytest.param(
            "a ratio without x 100, named Persentase, in people",
            {"served": {1: 5}, "registered": {1: 4}},
            (indicator("served / registered", unit="orang"),),
            [EXCEEDS],
            id="named-persentase",
        ),
        pytest.param(
            "the SK's misspelling Prosentase",
            {"served": {1: 5}, "registered": {1: 4}},
            (indicator("served / registered", unit="kali", name="Prosentase penanganan"),),
            [EXCEEDS],
            id="named-prosentase",
        ),
        pytest.param(
            "named Jumlah, but a % of a / b * 100",
            {"served": {1: 5}, "registered": {1: 4}},
            (indicator("served / registered * 100", name="Jumlah PMKS yang dilayani"),),
            [EXCEEDS],
            id="percent-unit",
        ),
        pytest.param(
            "a ratio of people per registered, neither % nor named a share",
            {"served": {1: 5}, "registered": {1: 4}},
            (indicator("served / registered", unit="orang", name="Rasio pelayanan"),),
            [],
            id="plain-ratio",
        ),
        pytest.param(
            "a change over last year may exceed 100%",
            {"served": {1: 90}, "registered": {1: 40}},
            (indicator("(served - registered) / registered * 100", name="Persentase kenaikan"),),
            [],
            id="change-over-baseline",
        ),
        pytest.param(
            "a sum over a total: the numerator is the sum",
            {"served": {1: 30}, "other_served": {1: 20}, "registered": {1: 40}},
            (indicator("(served + other_served) / registered * 100"),),
            [EXCEEDS],
            id="sum-numerator",
        ),
        pytest.param(
            "a count is no proportion",
            {"served": {1: 50}, "registered": {1: 40}},
            (indicator("served", unit="orang", name="Jumlah PPKS"),),
            [],
            id="count",
        ),
        pytest.param(
            "a zero denominator is the zero-denominator check's",
            {"served": {1: 5}, "registered": {1: 0}},
            (KADIS_1_2,),
            [],
            id="zero-denominator",
        ),
        pytest.param(
            "a missing value says nothing",
            {"served": {1: 67}},
            (KADIS_1_2,),
            [],
            id="missing",
        ),
        pytest.param(
            "x 100 written first",
            {"served": {1: 67}, "registered": {1: 40}},
            (indicator("100 * served / registered"),),
            [EXCEEDS],
            id="hundred-first",
        ),
    ],
)
def test_numerator_exceeds_denominator(case, values, indicators, expected):
    findings = list(numerator_exceeds_denominator(quarter_of(1, values, indicators=indicators)))
    assert found(findings) == expected, case


def test_a_numerator_above_its_denominator_carries_the_values():
    (finding,) = numerator_exceeds_denominator(
        quarter_of(1, {"served": {1: 67}, "registered": {1: 40}})
    )
    assert finding.indicator == "KADIS.1.2"
    assert finding.values == {"served": 67, "registered": 40}
    assert finding.figures == {"numerator": 67, "denominator": 40, "share": 167.5}
    assert "167,5%" in finding.message and "melebihi penyebut" in finding.message


def test_only_the_quarters_own_values_are_compared():
    """Q2: 30 served of 40, after 30 in Q1: the year to date (60 of 40) is for a rule."""
    values = {"served": {1: 30, 2: 30}, "registered": {1: 40, 2: 40}}
    assert list(numerator_exceeds_denominator(quarter_of(2, values))) == []


def test_later_quarters_are_not_read():
    values = {"served": {1: 30, 2: 90}, "registered": {1: 40, 2: 40}}
    assert list(numerator_exceeds_denominator(quarter_of(1, values))) == []


@pytest.mark.parametrize(
    ("formula", "unit", "name", "expected"),
    [
        ("a / b * 100", "%", "Capaian", True),
        ("a / b", "%", "Capaian", True),
        ("a * 100 / b", "%", "Capaian", True),
        ("a / b", "orang", "Proporsi anak", True),
        ("a / b", "orang", "Presentase TMP", True),
        ("a / b", "orang", "Rasio", False),
        ("a + b", "%", "Persentase", False),
        ("(a - b) / b * 100", "%", "Persentase", False),
        ("max(a, b)", "%", "Persentase", False),
    ],
)
def test_what_is_a_proportion(formula, unit, name, expected):
    assert is_proportion(IndicatorFacts("X.1.1", name, parse(formula), unit)) is expected


# A capaian far from its target -----------------------------------------------------------------

FAR = ("capaian_far_from_target", Severity.warning, "capaian_far_from_target:KADIS.1.2")


@pytest.mark.parametrize(
    ("values", "target", "polarity", "thresholds", "expected", "achievement"),
    [
        (
            {"served": {1: 32}, "registered": {1: 40}},
            40,
            Polarity.higher_is_better,
            None,
            [FAR],
            200,
        ),
        (
            {"served": {1: 12}, "registered": {1: 40}},
            100,
            Polarity.higher_is_better,
            None,
            [FAR],
            30,
        ),
        ({"served": {1: 24}, "registered": {1: 40}}, 60, Polarity.higher_is_better, None, [], None),
        ({"served": {1: 30}, "registered": {1: 40}}, 50, Polarity.higher_is_better, None, [], None),
        (
            {"served": {1: 32}, "registered": {1: 40}},
            40,
            Polarity.higher_is_better,
            Thresholds(capaian_above=250),
            [],
            None,
        ),
        (
            {"served": {1: 24}, "registered": {1: 40}},
            60,
            Polarity.higher_is_better,
            Thresholds(capaian_below=110),
            [FAR],
            100,
        ),
        ({"served": {1: 4}, "registered": {1: 40}}, 40, Polarity.lower_is_better, None, [FAR], 175),
        (
            {"served": {1: 32}, "registered": {1: 40}},
            None,
            Polarity.higher_is_better,
            None,
            [],
            None,
        ),
    ],
    ids=[
        "double-the-target",
        "under-a-third",
        "on-target",
        "150-is-within",
        "agency-band-above",
        "agency-band-below",
        "lower-is-better",
        "no-target",
    ],
)
def test_capaian_far_from_target(values, target, polarity, thresholds, expected, achievement):
    targets = {0: target} if target is not None else {}
    ind = indicator("served / registered * 100", targets=targets, polarity=polarity)
    findings = list(
        capaian_far_from_target(quarter_of(1, values, indicators=(ind,), thresholds=thresholds))
    )
    assert found(findings) == expected
    if findings:
        assert findings[0].figures["achievement"] == pytest.approx(achievement)


def test_capaian_is_the_year_to_date_against_the_quarters_target():
    ind = indicator("served / registered * 100", targets={0: 100, 2: 40})
    values = {"served": {1: 10, 2: 22}, "registered": {1: 40, 2: 40}}  # 80% of 40: 200%
    (finding,) = capaian_far_from_target(quarter_of(2, values, indicators=(ind,)))
    assert finding.figures["realization"] == 80
    assert finding.figures["target"] == 40
    assert finding.values == {"served": 32, "registered": 40}


# A zero denominator ----------------------------------------------------------------------------


def test_a_zero_denominator_says_the_status_will_be_undefined():
    (finding,) = zero_denominator(quarter_of(1, {"served": {1: 5}, "registered": {1: 0}}))
    assert (finding.code, finding.severity, finding.key) == (
        "zero_denominator",
        Severity.warning,
        "zero_denominator:KADIS.1.2",
    )
    assert '"undefined"' in finding.message and "division_by_zero" in finding.message
    assert finding.values == {"served": 5, "registered": 0}


def test_a_quarters_zero_under_a_year_to_date_that_is_not_is_information():
    ind = indicator("served / cases * 100")  # two flows: Q2's cases are 0, the year's 10
    values = {"served": {1: 5, 2: 0}, "cases": {1: 10, 2: 0}}
    (finding,) = zero_denominator(quarter_of(2, values, indicators=(ind,)))
    assert finding.severity == Severity.info
    assert "tetap dihitung" in finding.message


def test_a_denominator_that_is_not_zero_is_no_finding():
    assert list(zero_denominator(quarter_of(1, {"served": {1: 5}, "registered": {1: 9}}))) == []


# Outliers of a flow ----------------------------------------------------------------------------

OUTLIER = ("outlier", Severity.warning, "outlier:cases")


@pytest.mark.parametrize(
    ("quarter", "values", "previous", "expected"),
    [
        pytest.param(3, {"cases": {1: 10, 2: 12, 3: 110}}, {}, [OUTLIER], id="ten-times"),
        pytest.param(3, {"cases": {1: 10, 2: 12, 3: 18}}, {}, [], id="ordinary-rise"),
        pytest.param(3, {"cases": {1: 10, 2: 12, 3: 0}}, {}, [], id="a-quiet-quarter"),
        pytest.param(2, {"cases": {1: 10, 2: 110}}, {}, [], id="one-earlier-value"),
        pytest.param(1, {"cases": {1: 110}}, {"cases": {1: 10}}, [], id="last-year-alone"),
        pytest.param(
            2, {"cases": {1: 10, 2: 110}}, {"cases": {2: 12}}, [OUTLIER], id="with-last-year"
        ),
        pytest.param(3, {"cases": {1: 0, 2: 0, 3: 3}}, {}, [], id="zeros-then-a-few"),
        pytest.param(3, {"cases": {1: 0, 2: 0, 3: 10}}, {}, [OUTLIER], id="zeros-then-many"),
        pytest.param(
            4, {"cases": {1: 1000, 2: 1100, 3: 1050, 4: 2500}}, {}, [OUTLIER], id="large-counts"
        ),
        pytest.param(
            4, {"cases": {1: 1000, 2: 1100, 3: 1050, 4: 1600}}, {}, [], id="large-counts-rise"
        ),
        pytest.param(3, {"stock": {1: 10, 2: 12, 3: 110}}, {}, [], id="a-stock-is-no-flow"),
        pytest.param(3, {"foreign": {1: 10, 2: 12, 3: 110}}, {}, [], id="another-units"),
    ],
)
def test_outlier(quarter, values, previous, expected):
    assert found(list(outlier(quarter_of(quarter, values, previous=previous)))) == expected


def test_an_outlier_carries_the_median_and_its_score():
    (finding,) = outlier(quarter_of(3, {"cases": {1: 10, 2: 12, 3: 110}}))
    assert finding.values == {"cases": 110}
    assert finding.figures["median"] == 11
    assert finding.figures["deviation"] == 1
    assert finding.figures["score"] > 3
    assert "triwulan I 2025: 10" in finding.message


@pytest.mark.parametrize(
    ("value", "history", "expected"),
    [
        (5, [], None),
        (5, [4], None),
        (11, [10, 12], 0.0),
        (110, [10, 12], 99 / (1.4826 * 2.75)),  # the deviation floored at 25% of the median
        (10, [0, 0], 10 / 1.4826),  # and at 1
        (130, [100, 110, 120, 100, 105], 25 / (1.4826 * 26.25)),
    ],
)
def test_robust_score(value, history, expected):
    scored = robust_score(value, history)
    if expected is None:
        assert scored is None
    else:
        assert scored is not None
        assert scored[0] == pytest.approx(expected)


# Stocks that jump or drop ----------------------------------------------------------------------

STOCK = ("stock_change", Severity.warning, "stock_change:stock")


@pytest.mark.parametrize(
    ("quarter", "values", "previous", "thresholds", "expected", "change"),
    [
        pytest.param(2, {"stock": {1: 200, 2: 90}}, {}, None, [STOCK], -55, id="halved"),
        pytest.param(2, {"stock": {1: 200, 2: 100}}, {}, None, [], None, id="exactly-half"),
        pytest.param(2, {"stock": {1: 100, 2: 160}}, {}, None, [STOCK], 60, id="jump"),
        pytest.param(
            2, {"stock": {1: 100, 2: 160}}, {}, Thresholds(stock_change=70), [], None, id="band"
        ),
        pytest.param(
            1, {"stock": {1: 80}}, {"stock": {4: 200}}, None, [STOCK], -60, id="last-year-q4"
        ),
        pytest.param(1, {"stock": {1: 80}}, {}, None, [], None, id="nothing-before"),
        pytest.param(2, {"stock": {1: 0, 2: 10}}, {}, None, [STOCK], None, id="from-zero"),
        pytest.param(2, {"stock": {1: 0, 2: 0}}, {}, None, [], None, id="zero-stays"),
        pytest.param(2, {"cases": {1: 200, 2: 90}}, {}, None, [], None, id="a-flow-is-no-stock"),
        pytest.param(3, {"stock": {1: 200, 3: 90}}, {}, None, [], None, id="no-previous-quarter"),
    ],
)
def test_stock_change(quarter, values, previous, thresholds, expected, change):
    findings = list(
        stock_change(quarter_of(quarter, values, previous=previous, thresholds=thresholds))
    )
    assert found(findings) == expected
    if findings:
        assert findings[0].figures["change"] == (
            pytest.approx(change) if change is not None else None
        )


# Missing values and evidence -------------------------------------------------------------------


def test_a_used_variable_of_the_unit_without_a_value_is_missing():
    indicators = (KADIS_1_2, indicator("foreign / cases * 100", code="KADIS.9.9"))
    findings = missing_value(
        quarter_of(1, {"served": {1: 0}, "foreign": {1: 3}}, indicators=indicators)
    )
    # registered and cases are missing; served holds 0 (a value); foreign is another unit's;
    # stock, documents and other_served no indicator uses.
    assert found(list(findings)) == [
        ("missing_value", Severity.warning, "missing_value:cases"),
        ("missing_value", Severity.warning, "missing_value:registered"),
    ]


def test_a_quarter_later_than_the_values_misses_them():
    assert [
        f.variable for f in missing_value(quarter_of(2, {"served": {1: 1}, "registered": {1: 1}}))
    ] == [
        "registered",
        "served",
    ]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ((3, None), [("missing_evidence", Severity.error, "missing_evidence:documents")]),
        ((3, "   "), [("missing_evidence", Severity.error, "missing_evidence:documents")]),
        ((3, "https://arsip.example/bmd.pdf"), []),
        ((0, None), [("missing_evidence", Severity.error, "missing_evidence:documents")]),
        (None, []),
    ],
    ids=["none", "blank", "given", "zero-needs-it-too", "no-value"],
)
def test_missing_evidence(stored, expected):
    values = {"documents": {1: stored}} if stored is not None else {}
    assert found(list(missing_evidence(quarter_of(1, values)))) == expected


def test_evidence_is_asked_only_where_the_variable_needs_it():
    assert list(missing_evidence(quarter_of(1, {"cases": {1: 3}}))) == []


# Rules written by people -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        (1, Operator.le, 1, True),
        (1, Operator.le, 0.5, False),
        (1, Operator.lt, 1, False),
        (0.5, Operator.lt, 1, True),
        (0.1 + 0.2, Operator.eq, 0.3, True),
        (1, Operator.eq, 1.001, False),
        (0.1 + 0.2, Operator.ne, 0.3, False),
        (2, Operator.ne, 3, True),
        (1, Operator.ge, 1, True),
        (0.3, Operator.ge, 0.1 + 0.2, True),
        (1, Operator.gt, 1, False),
        (1e12, Operator.gt, 1e12 - 1, True),
        (1e12 + 1, Operator.eq, 1e12, False),
    ],
)
def test_holds(left, op, right, expected):
    assert holds(left, op, right) is expected


RULE = ("rule_violated", Severity.error, "rule_violated:aturan")


@pytest.mark.parametrize(
    ("quarter", "values", "written", "expected"),
    [
        pytest.param(
            1,
            {"served": {1: 67}, "registered": {1: 40}},
            rule("served", Operator.le, "registered"),
            [RULE],
            id="broken",
        ),
        pytest.param(
            1,
            {"served": {1: 40}, "registered": {1: 40}},
            rule("served", Operator.le, "registered"),
            [],
            id="holds",
        ),
        pytest.param(
            2,
            {"served": {1: 30, 2: 30}, "registered": {1: 40, 2: 40}},
            rule("served", Operator.le, "registered", period=RulePeriod.year_to_date),
            [RULE],
            id="year-to-date-sums-the-flow",
        ),
        pytest.param(
            2,
            {"served": {1: 30, 2: 30}, "registered": {1: 40, 2: 40}},
            rule("served", Operator.le, "registered"),
            [],
            id="the-quarter-alone-holds",
        ),
        pytest.param(
            2,
            {"served": {2: 30}, "registered": {1: 40, 2: 20}},
            rule("served", Operator.le, "registered", period=RulePeriod.year_to_date),
            [],
            id="year-to-date-missing-a-quarter-is-skipped",
        ),
        pytest.param(
            1,
            {"served": {1: 67}},
            rule("served", Operator.le, "registered"),
            [],
            id="missing-is-skipped",
        ),
        pytest.param(
            1,
            {"served": {1: 3}, "registered": {1: 0}, "cases": {1: 1}},
            rule("served / registered", Operator.le, "cases"),
            [],
            id="a-side-undefined-is-skipped",
        ),
        pytest.param(
            1,
            {"served": {1: 3}, "other_served": {1: 2}, "registered": {1: 4}},
            rule("served + other_served", Operator.le, "registered * 1", severity=Severity.warning),
            [("rule_violated", Severity.warning, "rule_violated:aturan")],
            id="expressions-and-severity",
        ),
    ],
)
def test_rule_violated(quarter, values, written, expected):
    assert found(list(rule_violated(quarter_of(quarter, values, rules=(written,))))) == expected


def test_a_broken_rule_carries_both_sides():
    written = rule("served", Operator.le, "registered", period=RulePeriod.year_to_date)
    values = {"served": {1: 30, 2: 30}, "registered": {1: 40, 2: 40}}
    (finding,) = rule_violated(quarter_of(2, values, rules=(written,)))
    assert finding.rule == "aturan"
    assert finding.variable == "served"
    assert finding.values == {"served": 60, "registered": 40}
    assert finding.figures == {"left": 60, "right": 40}
    assert "s.d. triwulan II" in finding.message and "Aturan uji" in finding.message


# The runner ------------------------------------------------------------------------------------


def test_a_clean_quarter_has_no_finding():
    values = {
        "served": {1: 10, 2: 12, 3: 11},
        "registered": {1: 40, 2: 41, 3: 40},
        "cases": {1: 5, 2: 6, 3: 5},
        "documents": {3: (2, "Arsip Sekretariat")},
    }
    indicators = (
        indicator("served / registered * 100", targets={0: 80}),  # 33 of 40
        indicator("cases", code="KADIS.2.1", unit="kasus", name="Jumlah kasus", targets={0: 16}),
        indicator("documents", code="KADIS.3.1", unit="dokumen", name="Jumlah dokumen"),
    )
    rules = (rule("served", Operator.le, "registered", period=RulePeriod.year_to_date),)
    assert check(quarter_of(3, values, indicators=indicators, rules=rules)) == []


def test_findings_are_listed_errors_first_with_stable_keys():
    values = {"served": {1: 67}, "registered": {1: 40}, "documents": {1: 2}}
    indicators = (
        indicator("served / registered * 100", targets={0: 40}),
        indicator("documents + cases", code="KADIS.3.1", unit="dokumen", name="Jumlah"),
    )
    findings = check(quarter_of(1, values, indicators=indicators))
    assert [f.severity for f in findings] == sorted(
        (f.severity for f in findings), key=[Severity.error, Severity.warning, Severity.info].index
    )
    assert [f.key for f in findings] == [
        "numerator_exceeds_denominator:KADIS.1.2",
        "missing_evidence:documents",
        "capaian_far_from_target:KADIS.1.2",
        "missing_value:cases",
    ]
    assert all(f.key == f"{f.code}:{f.indicator or f.rule or f.variable}" for f in findings)
    # Each names the indicators whose figures it touches.
    assert [f.indicators for f in findings] == [
        ("KADIS.1.2",),
        ("KADIS.3.1",),
        ("KADIS.1.2",),
        ("KADIS.3.1",),
    ]
    assert len(RULES) == 8
