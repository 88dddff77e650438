"""The lint of data-quality rules written by people: a rule that, for the decree's
definitions, can never fire or always fires, or whose findings touch no figure of the decree.

What it detects, from the definitions alone (no data):

- the same expression on both sides (`x <= x`, blanks and parentheses aside): `<=`, `>=` and
  `==` always hold (the rule never fires), `<`, `>` and `!=` never do (it fires whenever the
  variable has a value);
- two sides whose ranges settle the comparison: a side that is a constant expression (`0`,
  `2 * 50`) or a bare variable with a `min_value` / `max_value` (`x >= 0` where x's
  `min_value` is 0 always holds; `x < 0` never does; `x > y` where x's maximum is below y's
  minimum never does). Over `year_to_date`, a flow's (`sum`) range is that of up to four
  quarters added up. Two constants (`1 > 2`) are settled the same way (the API refuses such a
  rule; one may still be stored from before);
- a rule over variables that no indicator of the decree uses: it is checked, but its findings
  touch no figure of the decree.

A side that computes over variables (`a + b`, `a / b * 100`) has no range here: such a rule
is not judged.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final, NamedTuple

from app.formula import CheckedFormula, evaluate
from app.lint.facts import Finding, IndicatorFacts, QualityRuleFacts, Severity, VariableFacts
from app.lint.shape import dump

_COMPARE: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
_REFLEXIVE: Final = frozenset({"<=", ">=", "=="})
"""The comparisons that hold between a value and itself."""
_QUARTERS: Final = 4


class Range(NamedTuple):
    """The values a side can take: between `low` and `high` (infinite: no bound)."""

    low: float
    high: float

    @property
    def point(self) -> bool:
        return self.low == self.high


def _always(left: Range, op: str, right: Range) -> bool:
    """Whether `l op r` holds for every l of `left` and r of `right`."""
    if op in ("<=", "<"):
        return _COMPARE[op](left.high, right.low)
    if op in (">=", ">"):
        return _COMPARE[op](left.low, right.high)
    if op == "==":
        return left.point and right.point and left.low == right.low
    return left.high < right.low or left.low > right.high  # !=


def _never(left: Range, op: str, right: Range) -> bool:
    """Whether `l op r` holds for no l of `left` and r of `right`."""
    negation = {"<=": ">", "<": ">=", ">=": "<", ">": "<=", "==": "!=", "!=": "=="}
    return _always(left, negation[op], right)


def _side_range(
    side: CheckedFormula, period: str, variables: Mapping[str, VariableFacts]
) -> Range | None:
    """The range of a constant side or of a bare variable with a known bound; else None."""
    if not side.variables:
        value = evaluate(side, {}).value
        return None if value is None else Range(value, value)
    body = side.tree.body
    if not isinstance(body, ast.Name) or body.id not in variables:
        return None
    variable = variables[body.id]
    low = -math.inf if variable.min_value is None else variable.min_value
    high = math.inf if variable.max_value is None else variable.max_value
    if period == "year_to_date" and variable.aggregation == "sum":
        # Up to four quarters added up: the bound away from zero grows fourfold.
        low, high = min(low, _QUARTERS * low), max(high, _QUARTERS * high)
    if math.isinf(low) and math.isinf(high):
        return None
    return Range(low, high)


def _shown(value: float) -> str:
    return f"{value:g}" if not math.isinf(value) else ("-∞" if value < 0 else "∞")


def _finding(rule: QualityRuleFacts, code: str, message: str) -> Finding:
    return Finding(code, Severity.warning, message, rule=rule.code)


def _never_fires(rule: QualityRuleFacts, why: str) -> Finding:
    return _finding(
        rule,
        "quality_rule_never_fires",
        f'Aturan kualitas data "{rule.name}" ({rule.left.expression} {rule.operator} '
        f"{rule.right.expression}) selalu terpenuhi {why}, sehingga tidak pernah memberi "
        "temuan. Perbaiki atau hapus aturan ini.",
    )


def _always_fires(rule: QualityRuleFacts, why: str) -> Finding:
    return _finding(
        rule,
        "quality_rule_always_fires",
        f'Aturan kualitas data "{rule.name}" ({rule.left.expression} {rule.operator} '
        f"{rule.right.expression}) tidak pernah terpenuhi {why}, sehingga memberi temuan "
        "setiap kali nilainya dilaporkan. Perbaiki atau hapus aturan ini.",
    )


def settled_rule(
    rule: QualityRuleFacts,
    indicators: Sequence[IndicatorFacts],
    agency: Mapping[str, VariableFacts],
) -> Iterator[Finding]:
    """A rule whose comparison the definitions settle: the same expression on both sides, or
    sides whose ranges (constants, variables' `min_value` / `max_value`) decide it."""
    if rule.operator not in _COMPARE:
        return
    if rule.left.variables and dump(rule.left) == dump(rule.right):
        why = "karena kedua sisinya sama"
        if rule.operator in _REFLEXIVE:
            yield _never_fires(rule, why)
        else:
            yield _always_fires(rule, why)
        return
    left = _side_range(rule.left, rule.period, agency)
    right = _side_range(rule.right, rule.period, agency)
    if left is None or right is None:
        return
    if not rule.variables:
        why = "karena kedua sisinya konstanta"
    else:
        why = (
            f"menurut rentang nilainya (kiri {_shown(left.low)} s.d. {_shown(left.high)}, "
            f"kanan {_shown(right.low)} s.d. {_shown(right.high)}; lihat min_value dan "
            "max_value variabelnya)"
        )
    if _always(left, rule.operator, right):
        yield _never_fires(rule, why)
    elif _never(left, rule.operator, right):
        yield _always_fires(rule, why)


def rule_outside_decree(
    rule: QualityRuleFacts,
    indicators: Sequence[IndicatorFacts],
    agency: Mapping[str, VariableFacts],
) -> Iterator[Finding]:
    """A rule over variables no indicator of the decree uses: its findings touch no figure."""
    used = {name for indicator in indicators for name in indicator.formula.variables}
    if rule.variables and not used.intersection(rule.variables):
        yield _finding(
            rule,
            "quality_rule_outside_decree",
            f'Aturan kualitas data "{rule.name}" hanya memakai variabel yang tidak dipakai '
            f"indikator mana pun dalam SK ini ({', '.join(rule.variables)}): temuannya tidak "
            "menyentuh capaian SK ini, tetapi galatnya tetap menahan pengajuan triwulan.",
        )


QualityRuleLint = Callable[
    [QualityRuleFacts, Sequence[IndicatorFacts], Mapping[str, VariableFacts]], Iterator[Finding]
]
QUALITY_RULE_RULES: Final[tuple[QualityRuleLint, ...]] = (settled_rule, rule_outside_decree)


def lint_quality_rules(
    rules: Sequence[QualityRuleFacts],
    indicators: Sequence[IndicatorFacts],
    agency: Mapping[str, VariableFacts],
) -> list[Finding]:
    """Every finding about the agency's data-quality rules, in the order given."""
    return [
        f for rule in rules for check in QUALITY_RULE_RULES for f in check(rule, indicators, agency)
    ]
