"""The data-quality rules: pure functions from a unit's quarter (plain data) to findings.

Built-in rules derive from the definitions alone (a proportion's numerator and denominator,
a variable's aggregation, an indicator's targets); `rule_violated` applies the rules written
by people. Messages are in Indonesian, for the operator who explains and the verifier who
signs.
"""

from __future__ import annotations

import ast
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Final

from app.achievement import (
    Achievement,
    AchievementStatus,
    IndicatorSpec,
    compute,
    target_for,
    year_to_date,
)
from app.achievement.aggregation import rule as aggregation_rule
from app.formula import CheckedFormula, FormulaError, evaluate, parse
from app.lint.shape import Shape
from app.lint.shape import shape_of as _shape_of
from app.quality.facts import (
    Finding,
    IndicatorFacts,
    RuleFacts,
    RulePeriod,
    Severity,
    UnitQuarter,
    holds,
)

Rule = Callable[[UnitQuarter], Iterable[Finding]]
"""A built-in rule over a unit's quarter."""

OUTLIER_SCORE: Final = 3.0
"""A flow's value is an outlier when its robust z-score passes this (DHIS2's default)."""
MAD_SCALE: Final = 1.4826
"""Makes the median absolute deviation comparable to a standard deviation (normal data)."""
MAD_FLOOR_SHARE: Final = 0.25
"""The deviation is taken as at least this share of the median (and at least 1): earlier
quarters that agree closely (10, 11, 10) must not make an ordinary 14 an outlier."""
MIN_HISTORY: Final = 2
"""Fewer earlier values than this say nothing about what is usual: no outlier finding."""

_PROPORTION_NAME: Final = re.compile(r"^\s*(?:persentase|presentase|prosentase|proporsi)\b", re.I)
_QUARTERS: Final = ("", "I", "II", "III", "IV")
_SEPARATORS: Final = str.maketrans(",.", ".,")  # 1,234.5 -> 1.234,5


def _angka(value: float | None) -> str:
    """A number as an Indonesian reads it: 1.234,5 (at most two decimals)."""
    if value is None:
        return "-"
    text = f"{round(value, 2):,.2f}".rstrip("0").rstrip(".")
    return text.translate(_SEPARATORS)


def _tw(quarter: int) -> str:
    return f"triwulan {_QUARTERS[quarter]}"


def _label(quarter: UnitQuarter, code: str) -> str:
    variable = quarter.variables.get(code)
    return f'"{variable.label}" ({code})' if variable else code


def _finding(
    code: str,
    severity: Severity,
    subject: str,
    message: str,
    *,
    indicator: str | None = None,
    variable: str | None = None,
    rule: str | None = None,
    values: Mapping[str, float | None] | None = None,
    figures: Mapping[str, float | None] | None = None,
) -> Finding:
    """A finding keyed `code:subject` (an indicator's, a variable's or a rule's code)."""
    return Finding(
        code,
        severity,
        f"{code}:{subject}",
        message,
        indicator=indicator,
        variable=variable,
        rule=rule,
        values=dict(values or {}),
        figures=dict(figures or {}),
    )


def _quarter_values(quarter: UnitQuarter, codes: Iterable[str]) -> dict[str, float | None]:
    return {c: (o.value if (o := quarter.observed(c)) is not None else None) for c in codes}


def _year_to_date_values(quarter: UnitQuarter, codes: Iterable[str]) -> dict[str, float | None]:
    return {
        c: year_to_date(quarter.variables[c].aggregation, quarter.series(c), quarter.quarter)
        if c in quarter.variables
        else None
        for c in codes
    }


def _value(checked: CheckedFormula, values: Mapping[str, float | None]) -> float | None:
    if any(values.get(c) is None for c in checked.variables):
        return None
    return evaluate(checked, values).value


# A city's agencies share their formulas, and every unit's quarter reads them again: their
# shapes and parts are read once per formula (a checked formula is its text, hashable).
_FORMULAS_CACHED: Final = 4096


@lru_cache(maxsize=_FORMULAS_CACHED)
def shape_of(checked: CheckedFormula) -> Shape:
    return _shape_of(checked)


@lru_cache(maxsize=_FORMULAS_CACHED)
def _parts(checked: CheckedFormula) -> tuple[CheckedFormula | None, CheckedFormula | None]:
    """A proportion's numerator and denominator, each as a formula of its own."""
    parts = shape_of(checked).parts
    assert parts is not None
    numerator, denominator = parts
    return _part(numerator), _part(denominator)


def _part(node: ast.expr) -> CheckedFormula | None:
    """A subtree of a checked formula as a formula of its own (to evaluate it alone)."""
    try:
        return parse(ast.unparse(node))
    except FormulaError:  # written out again, a subtree may pass the formulas' length limit
        return None


def _computable(indicator: IndicatorFacts, quarter: UnitQuarter) -> bool:
    return all(c in quarter.variables for c in indicator.formula.variables)


# Rules over the indicators ---------------------------------------------------------------------


def is_proportion(indicator: IndicatorFacts) -> bool:
    """A share of a whole: `a / b * 100` (or `a / b`) with the unit `%`, or one named
    "Persentase ..." or "Proporsi ..." (and its misspellings in SKs: "Presentase",
    "Prosentase"); a change over a baseline (`(a - a_lalu) / a_lalu`) is none."""
    shape = shape_of(indicator.formula)
    if not shape.is_proportion or shape.compares:
        return False
    return indicator.unit_of_measure.strip() == "%" or bool(_PROPORTION_NAME.match(indicator.name))


def numerator_exceeds_denominator(quarter: UnitQuarter) -> Iterator[Finding]:
    """A proportion whose numerator exceeds its denominator in the quarter's own values (67
    served of 40 registered): a share above 100% of a whole is an error of the data. A year
    to date that exceeds (flows summed over quarters against a stock) is for a rule written
    by people with the period `year_to_date`, as the seed's are."""
    for indicator in quarter.indicators:
        if not _computable(indicator, quarter) or not is_proportion(indicator):
            continue
        numerator, denominator = _parts(indicator.formula)
        if numerator is None or denominator is None:
            continue
        values = _quarter_values(quarter, indicator.formula.variables)
        above, below = _value(numerator, values), _value(denominator, values)
        if above is None or below is None or below <= 0 or above <= below:
            continue
        yield _finding(
            "numerator_exceeds_denominator",
            Severity.error,
            indicator.code,
            f"{indicator.code}: pembilang ({_angka(above)}: "
            f"{', '.join(_label(quarter, c) for c in numerator.variables)}) melebihi penyebut "
            f"({_angka(below)}: {', '.join(_label(quarter, c) for c in denominator.variables)}) "
            f"pada {_tw(quarter.quarter)}: persentase dari keseluruhan tidak dapat melebihi "
            f"100% ({_angka(above / below * 100)}%). Periksa kedua nilai.",
            indicator=indicator.code,
            values=values,
            figures={"numerator": above, "denominator": below, "share": above / below * 100},
        )


def _achievement(indicator: IndicatorFacts, quarter: UnitQuarter) -> Achievement:
    """The indicator's achievement s.d. the quarter, computed once for all the rules."""
    key = ("achievement", indicator.code)
    found = quarter.memo.get(key)
    if found is None:
        found = quarter.memo[key] = _computed(indicator, quarter)
    assert isinstance(found, Achievement)
    return found


def _computed(indicator: IndicatorFacts, quarter: UnitQuarter) -> Achievement:
    spec = IndicatorSpec(
        indicator.formula,
        {c: quarter.variables[c].aggregation for c in indicator.formula.variables},
        indicator.polarity,
    )
    data = {c: quarter.series(c) for c in indicator.formula.variables}
    return compute(spec, data, quarter.quarter, target_for(indicator.targets, quarter.quarter), ())


def capaian_far_from_target(quarter: UnitQuarter) -> Iterator[Finding]:
    """A capaian (year to date) far above or below its target: above the agency's upper band
    (150% by default) or below its lower one (50%)."""
    above, below = quarter.thresholds.capaian_above, quarter.thresholds.capaian_below
    for indicator in quarter.indicators:
        if not _computable(indicator, quarter):
            continue
        result = _achievement(indicator, quarter)
        percent = result.achievement
        if result.status != AchievementStatus.ok or percent is None:
            continue
        if percent > above:
            where = f"jauh di atas target (lebih dari {_angka(above)}%)"
        elif percent < below:
            where = f"jauh di bawah target (kurang dari {_angka(below)}%)"
        else:
            continue
        yield _finding(
            "capaian_far_from_target",
            Severity.warning,
            indicator.code,
            f"{indicator.code}: capaian s.d. {_tw(quarter.quarter)} {_angka(percent)}% "
            f"(realisasi {_angka(result.realization)} terhadap target "
            f"{_angka(result.target)}) {where}. Periksa data, atau target yang ditetapkan.",
            indicator=indicator.code,
            values=dict(result.values),
            figures={
                "realization": result.realization,
                "target": result.target,
                "achievement": percent,
                "above": above,
                "below": below,
            },
        )


def zero_denominator(quarter: UnitQuarter) -> Iterator[Finding]:
    """A denominator of 0: the year to date is then undefined, and the capaian's status is
    `undefined` (reason `division_by_zero`) until it is filled in (a warning); a quarter's
    own denominator of 0 leaves only that quarter's realization undefined (info)."""
    for indicator in quarter.indicators:
        if not _computable(indicator, quarter):
            continue
        result = _achievement(indicator, quarter)
        if result.status == AchievementStatus.undefined and result.reason == "division_by_zero":
            yield _finding(
                "zero_denominator",
                Severity.warning,
                indicator.code,
                f"{indicator.code}: penyebut bernilai 0 s.d. {_tw(quarter.quarter)}, sehingga "
                f'realisasi tidak terdefinisi dan capaian berstatus "{result.status.value}" '
                '(alasan "division_by_zero"). Isi penyebut yang benar, atau jelaskan.',
                indicator=indicator.code,
                values=dict(result.values),
            )
            continue
        values = _quarter_values(quarter, indicator.formula.variables)
        if any(v is None for v in values.values()):
            continue
        if evaluate(indicator.formula, values).reason == "division_by_zero":
            yield _finding(
                "zero_denominator",
                Severity.info,
                indicator.code,
                f"{indicator.code}: penyebut {_tw(quarter.quarter)} bernilai 0, sehingga "
                "realisasi triwulan ini tidak terdefinisi; capaian s.d. triwulan ini tetap "
                f'dihitung (status "{result.status.value}").',
                indicator=indicator.code,
                values=values,
            )


# Rules over the unit's variables ---------------------------------------------------------------


def _used(quarter: UnitQuarter) -> set[str]:
    return {c for indicator in quarter.indicators for c in indicator.formula.variables}


def missing_value(quarter: UnitQuarter) -> Iterator[Finding]:
    """A variable of the unit that an indicator uses, with no value in the quarter (a zero
    is a value: it is stored as 0)."""
    used = _used(quarter)
    for variable in quarter.own:
        if variable.code in used and quarter.observed(variable.code) is None:
            yield _finding(
                "missing_value",
                Severity.warning,
                variable.code,
                f"{_label(quarter, variable.code)} belum diisi untuk {_tw(quarter.quarter)} "
                f"{quarter.year}: capaian yang memakainya tidak lengkap. Isi 0 bila memang "
                "tidak ada.",
                variable=variable.code,
            )


def missing_evidence(quarter: UnitQuarter) -> Iterator[Finding]:
    """A value of a variable marked as needing evidence (bukti dukung), stored without it."""
    for variable in quarter.own:
        observed = quarter.observed(variable.code)
        if not variable.needs_evidence or observed is None:
            continue
        if observed.evidence is None or not observed.evidence.strip():
            yield _finding(
                "missing_evidence",
                Severity.error,
                variable.code,
                f"{_label(quarter, variable.code)} {_tw(quarter.quarter)} bernilai "
                f"{_angka(observed.value)} tanpa bukti dukung, padahal variabel ini "
                "mewajibkannya. Lampirkan rujukan atau tautan bukti dukung.",
                variable=variable.code,
                values={variable.code: observed.value},
            )


def robust_score(value: float, history: Iterable[float]) -> tuple[float, float, float] | None:
    """How unusual `value` is against earlier values: (score, median, deviation), where the
    score is |value - median| / (1.4826 x deviation) and the deviation is the median
    absolute deviation, floored at 25% of the median and at 1. None with fewer than two
    earlier values, which say nothing about what is usual."""
    earlier = list(history)
    if len(earlier) < MIN_HISTORY:
        return None
    median = statistics.median(earlier)
    deviation = statistics.median(abs(x - median) for x in earlier)
    floored = max(deviation, MAD_FLOOR_SHARE * abs(median), 1.0)
    return abs(value - median) / (MAD_SCALE * floored), median, deviation


def outlier(quarter: UnitQuarter) -> Iterator[Finding]:
    """A flow's quarter value far from the unit's earlier values: the earlier quarters of
    the year and the same quarter of last year. Robust (median and median absolute
    deviation, as DHIS2's modified z-score), never a mean and standard deviation over three
    points; with fewer than two earlier values nothing is said."""
    for variable in quarter.own:
        if aggregation_rule(variable.aggregation).stock:
            continue
        observed = quarter.observed(variable.code)
        if observed is None:
            continue
        history = [
            (f"{_tw(q)} {quarter.year}", o.value)
            for q, o in sorted(quarter.values.get(variable.code, {}).items())
            if 1 <= q < quarter.quarter
        ]
        last_year = quarter.previous_year.get(variable.code, {}).get(quarter.quarter)
        if last_year is not None:
            history.append((f"{_tw(quarter.quarter)} {quarter.year - 1}", last_year.value))
        scored = robust_score(observed.value, (v for _, v in history))
        if scored is None or scored[0] <= OUTLIER_SCORE:
            continue
        score, median, deviation = scored
        earlier = ", ".join(f"{when}: {_angka(v)}" for when, v in history)
        yield _finding(
            "outlier",
            Severity.warning,
            variable.code,
            f"{_label(quarter, variable.code)} {_tw(quarter.quarter)} bernilai "
            f"{_angka(observed.value)}, jauh dari nilai sebelumnya ({earlier}; median "
            f"{_angka(median)}). Periksa apakah nilai ini benar.",
            variable=variable.code,
            values={variable.code: observed.value},
            figures={"median": median, "deviation": deviation, "score": score},
        )


def stock_change(quarter: UnitQuarter) -> Iterator[Finding]:
    """A stock (`last`) that moves by more than the agency's share (50% by default) from
    the previous quarter (for the first quarter: the fourth of last year)."""
    share = quarter.thresholds.stock_change
    for variable in quarter.own:
        if not aggregation_rule(variable.aggregation).stock:
            continue
        observed = quarter.observed(variable.code)
        if quarter.quarter > 1:
            before, when = (
                quarter.observed(variable.code, quarter.quarter - 1),
                _tw(quarter.quarter - 1),
            )
        else:
            before = quarter.previous_year.get(variable.code, {}).get(4)
            when = f"{_tw(4)} {quarter.year - 1}"
        if observed is None or before is None:
            continue
        now, then = observed.value, before.value
        if then == 0:
            if now == 0:
                continue
            change = None
        else:
            change = (now - then) / abs(then) * 100
            if abs(change) <= share:
                continue
        moved = "naik" if now > then else "turun"
        by = f" {_angka(abs(change))}%" if change is not None else " dari 0"
        yield _finding(
            "stock_change",
            Severity.warning,
            variable.code,
            f"{_label(quarter, variable.code)} (jumlah pada akhir triwulan) {moved}{by}: "
            f"{_angka(then)} pada {when}, {_angka(now)} pada {_tw(quarter.quarter)} (batas "
            f"{_angka(share)}%). Periksa apakah nilai ini benar.",
            variable=variable.code,
            values={variable.code: now},
            figures={"previous": then, "change": change, "limit": share},
        )


# Rules written by people -----------------------------------------------------------------------


def _rule_values(quarter: UnitQuarter, rule: RuleFacts) -> dict[str, float | None]:
    if rule.period == RulePeriod.year_to_date:
        return _year_to_date_values(quarter, rule.variables)
    return _quarter_values(quarter, rule.variables)


def rule_violated(quarter: UnitQuarter) -> Iterator[Finding]:
    """A rule written by people that the quarter's values (or years to date) break. A rule
    with a value missing, or a side that cannot be computed (a division by 0), is skipped,
    as DHIS2 skips a rule with missing values."""
    for rule in quarter.rules:
        values = _rule_values(quarter, rule)
        left, right = _value(rule.left, values), _value(rule.right, values)
        if left is None or right is None or holds(left, rule.operator, right):
            continue
        period = (
            f"s.d. {_tw(quarter.quarter)}"
            if rule.period == RulePeriod.year_to_date
            else _tw(quarter.quarter)
        )
        bare = {rule.left.expression.strip(), rule.right.expression.strip()} <= set(values)
        shown = "" if bare else f" ({', '.join(f'{c} = {_angka(v)}' for c, v in values.items())})"
        about = (
            f" {rule.description.strip()}" if rule.description and rule.description.strip() else ""
        )
        yield _finding(
            "rule_violated",
            rule.severity,
            rule.code,
            f'Aturan "{rule.name}" tidak terpenuhi {period}: {rule.left.expression} '
            f"({_angka(left)}) {rule.operator.value} {rule.right.expression} ({_angka(right)}) "
            f"tidak berlaku{shown}.{about}",
            rule=rule.code,
            variable=_first_own(quarter, rule.variables),
            values=values,
            figures={"left": left, "right": right},
        )


def _first_own(quarter: UnitQuarter, codes: Iterable[str]) -> str | None:
    own = {v.code for v in quarter.own}
    return next((c for c in codes if c in own), None)


RULES: Final[tuple[Rule, ...]] = (
    numerator_exceeds_denominator,
    rule_violated,
    missing_evidence,
    capaian_far_from_target,
    zero_denominator,
    outlier,
    stock_change,
    missing_value,
)
"""Every rule, in the order their findings are listed. A new rule is one function and one
line here."""

_ORDER: Final = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}


def touched(quarter: UnitQuarter, finding: Finding) -> tuple[str, ...]:
    """The indicators whose figures a finding touches: its own, else those (of the unit's
    quarter) over the variables it names, in SK order."""
    if finding.indicator is not None:
        return (finding.indicator,)
    codes = set(finding.values) | ({finding.variable} if finding.variable else set())
    return tuple(i.code for i in quarter.indicators if codes.intersection(i.formula.variables))


def check(quarter: UnitQuarter, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """Every finding of a unit's quarter, each with the indicators it touches: errors first,
    then warnings, then info, each in the order of the rules."""
    findings = [
        replace(finding, indicators=touched(quarter, finding))
        for rule in rules
        for finding in rule(quarter)
    ]
    return sorted(findings, key=lambda f: _ORDER[f.severity])
