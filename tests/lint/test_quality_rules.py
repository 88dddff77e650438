"""The lint of data-quality rules: each case it detects, over plain data, and rules that can
fire left alone."""

from __future__ import annotations

import pytest

from app.formula import parse
from app.lint import IndicatorFacts, QualityRuleFacts, VariableFacts, lint, lint_quality_rules

AGENCY = {
    "terdata": VariableFacts("terdata", "PPKS terdata", "orang", "last", min_value=0),
    "dilayani": VariableFacts("dilayani", "PPKS dilayani", "orang", "sum", 0, None, 0, 100),
    "bebas": VariableFacts("bebas", "Nilai tanpa batas", "orang", "sum"),
    "lain": VariableFacts("lain", "Variabel di luar SK", "orang", "sum"),
}
INDICATORS = [
    IndicatorFacts(
        "KADIS.1.2",
        "Persentase PPKS yang dilayani",
        parse("dilayani / terdata * 100"),
        "%",
        {c: AGENCY[c] for c in ("dilayani", "terdata")},
    ),
    IndicatorFacts(
        "KADIS.1.3", "Jumlah nilai", parse("bebas"), "orang", {"bebas": AGENCY["bebas"]}
    ),
]


def rule(left: str, operator: str, right: str, period: str = "quarter") -> QualityRuleFacts:
    return QualityRuleFacts("r", "Aturan uji", parse(left), operator, parse(right), period)


def codes(*rules: QualityRuleFacts) -> list[str]:
    return [f.code for f in lint_quality_rules(rules, INDICATORS, AGENCY)]


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        # The same expression on both sides (blanks and parentheses aside).
        ("bebas", "<=", "bebas", "quality_rule_never_fires"),
        ("(bebas)", "==", "bebas ", "quality_rule_never_fires"),
        ("bebas * 2", ">=", "(bebas*2)", "quality_rule_never_fires"),
        ("bebas", "<", "bebas", "quality_rule_always_fires"),
        ("bebas", "!=", "bebas", "quality_rule_always_fires"),
        # Two constants.
        ("1", ">", "2", "quality_rule_always_fires"),
        ("2 * 50", "==", "100", "quality_rule_never_fires"),
        # A bare variable against a bound its range settles.
        ("terdata", ">=", "0", "quality_rule_never_fires"),
        ("0", "<=", "terdata", "quality_rule_never_fires"),
        ("terdata", "<", "0", "quality_rule_always_fires"),
        ("dilayani", "<=", "100", "quality_rule_never_fires"),
        ("dilayani", ">", "100", "quality_rule_always_fires"),
        ("dilayani", "==", "-1", "quality_rule_always_fires"),
        ("dilayani", "!=", "-1", "quality_rule_never_fires"),
        # Two variables whose ranges do not overlap.
        ("dilayani", ">=", "0 - 5", "quality_rule_never_fires"),
    ],
)
def test_a_settled_rule_is_reported(left, operator, right, expected):
    found = lint_quality_rules([rule(left, operator, right)], INDICATORS, AGENCY)
    assert [f.code for f in found] == [expected]
    assert found[0].rule == "r" and found[0].severity == "warning"
    assert "Aturan uji" in found[0].message


@pytest.mark.parametrize(
    ("left", "operator", "right", "period"),
    [
        ("dilayani", "<=", "terdata", "quarter"),  # the seed's kind of rule
        ("dilayani", "<=", "terdata", "year_to_date"),
        ("terdata", ">=", "1", "quarter"),  # min 0: may be 0
        ("dilayani", "<", "100", "quarter"),  # max 100: may be 100
        ("dilayani", "<=", "100", "year_to_date"),  # a flow's year to date may reach 400
        ("bebas", ">=", "0", "quarter"),  # no range
        ("dilayani + terdata", ">=", "0", "quarter"),  # a computed side is not judged
        ("dilayani", "<=", "terdata * 2", "quarter"),
    ],
)
def test_a_rule_that_can_fire_is_not_reported(left, operator, right, period):
    assert codes(rule(left, operator, right, period)) == []


def test_a_flows_year_to_date_range_is_four_quarters():
    assert codes(rule("dilayani", "<=", "400", "year_to_date")) == ["quality_rule_never_fires"]
    assert codes(rule("dilayani", ">", "400", "year_to_date")) == ["quality_rule_always_fires"]


def test_a_rule_over_variables_no_indicator_uses():
    found = lint_quality_rules([rule("lain", "<=", "100")], INDICATORS, AGENCY)
    assert [f.code for f in found] == ["quality_rule_outside_decree"]
    assert "lain" in found[0].message
    assert codes(rule("lain", "<=", "bebas")) == []  # one of its variables is used


def test_the_decrees_lint_ends_with_its_rules_findings():
    findings = lint(INDICATORS, AGENCY, [rule("bebas", "<", "bebas")])
    assert findings[-1].code == "quality_rule_always_fires"
    assert lint(INDICATORS, AGENCY) == findings[:-1]
