"""evaluate(): numbers, or undefined with a reason; never NaN, infinity or an exception."""

import dataclasses
import math
import pickle
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

import pytest

from app.formula import Evaluation, evaluate, parse
from app.formula.engine import _IMPLEMENTATIONS, _per_thread

VALUES = {"a": 6, "b": 3, "c": -2.5, "zero": 0, "big": 1e300, "small": 1e-300}


def value_of(expression: str, values: Mapping[str, float | int | None] = VALUES) -> float | None:
    result = evaluate(parse(expression), values)
    assert result.status == "ok", result
    return result.value


def undefined(expression: str, values: Mapping[str, object] = VALUES) -> Evaluation:
    result = evaluate(parse(expression), values)  # type: ignore[arg-type]
    assert result.status == "undefined"
    assert result.value is None
    assert result.detail
    return result


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("a / b * 100", 200.0, id="percentage"),
        pytest.param("a + b * 2", 12.0, id="product-first"),
        pytest.param("(a + b) * 2", 18.0, id="parentheses"),
        pytest.param("a - b - 1", 2.0, id="left-associative"),
        pytest.param("-a ** 2", -36.0, id="power-before-minus"),
        pytest.param("(-a) ** 2", 36.0, id="minus-then-power"),
        pytest.param("2 ** -1", 0.5, id="negative-exponent"),
        pytest.param("2 ** 10", 1024.0, id="float-power"),
        pytest.param("a // 4", 1.0, id="floor-division"),
        pytest.param("c // 1", -3.0, id="floor-division-negative"),
        pytest.param("a % 4", 2.0, id="modulo"),
        pytest.param("c % 2", 1.5, id="modulo-negative"),
        pytest.param("+a - -b", 9.0, id="unary"),
        pytest.param("a > b", 1.0, id="comparison-true"),
        pytest.param("a < b", 0.0, id="comparison-false"),
        pytest.param("b < a <= 6", 1.0, id="chained-comparison"),
        pytest.param("a == 6 and b != 3", 0.0, id="and-false"),
        pytest.param("a and b", 3.0, id="and-value"),
        pytest.param("zero or b", 3.0, id="or-value"),
        pytest.param("not zero", 1.0, id="not"),
        pytest.param("100 if a > b else 0", 100.0, id="if-else"),
        pytest.param("a / zero if zero else -1", -1.0, id="if-else-skips-branch"),
        pytest.param("zero and a / zero", 0.0, id="and-short-circuit"),
        pytest.param("min(a, b, c)", -2.5, id="min"),
        pytest.param("max(a, b) * 2", 12.0, id="max"),
        pytest.param("abs(c)", 2.5, id="abs"),
        pytest.param("round(a / b * 100 / 7, 2)", 28.57, id="round-places"),
        pytest.param("round(2.5) + round(-2.5)", 0.0, id="round-half-away-from-zero"),
        pytest.param("round(3.5)", 4.0, id="round-up"),
        pytest.param("round(2.675, 2)", 2.68, id="round-as-written"),
        pytest.param("round(1234.5, -2)", 1200.0, id="round-tens"),
        pytest.param("round(a, 1000)", 6.0, id="round-many-places"),
        pytest.param("round(a > b)", 1.0, id="round-comparison"),
        pytest.param("-zero", 0.0, id="negative-zero"),
    ],
)
def test_arithmetic(expression: str, expected: float) -> None:
    value = value_of(expression)

    assert type(value) is float
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("-zero", id="negated-zero"),
        pytest.param("c * zero", id="negative-times-zero"),
        pytest.param("zero / c", id="zero-over-negative"),
        pytest.param("round(-0.4)", id="round-to-zero"),
        pytest.param("-0.0", id="literal"),
    ],
)
def test_negative_zero_is_reported_as_positive_zero(expression: str) -> None:
    # The engine adds 0.0 to every result so that -0.0 comes out as 0.0 (no "-0" in a
    # report). Both zeros compare equal and are falsy: only the sign bit tells them apart.
    # The same formula as plain Python (fixed input) does give -0.0, so the case is real.
    floats = {name: float(value) for name, value in VALUES.items()}
    plain = eval(expression, dict(_IMPLEMENTATIONS), floats)
    assert math.copysign(1.0, plain) == -1.0, f"{expression} no longer computes -0.0"

    value = value_of(expression)

    assert value == 0.0
    assert math.copysign(1.0, value) == 1.0, f"{expression} gave {value!r}, not 0.0"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("a / zero", "division_by_zero", id="division"),
        pytest.param("a // zero", "division_by_zero", id="floor-division"),
        pytest.param("a % zero", "division_by_zero", id="modulo"),
        pytest.param("zero ** -1", "division_by_zero", id="zero-to-negative-power"),
        pytest.param("a / (b - 3)", "division_by_zero", id="computed-zero"),
        pytest.param("big ** 10", "overflow", id="power-overflow"),
        pytest.param("round(big * big)", "not_finite", id="round-infinity"),
        pytest.param("big * big", "not_finite", id="infinite-product"),
        pytest.param("big * big - big * big", "not_finite", id="nan"),
        pytest.param("small ** -10", "overflow", id="reciprocal-overflow"),
        pytest.param("round(a, 0.5)", "domain_error", id="round-fractional-places"),
    ],
)
def test_undefined_results_have_a_reason(expression: str, reason: str) -> None:
    assert undefined(expression).reason == reason


def test_division_by_zero_has_a_readable_detail() -> None:
    result = undefined("a / zero")

    assert result == Evaluation.undefined("division_by_zero", result.detail or "")
    assert "zero" in (result.detail or "")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"a": 1}, id="absent"),
        pytest.param({"a": 1, "b": None}, id="none"),
    ],
)
def test_missing_values_are_named(values: Mapping[str, object]) -> None:
    result = undefined("a / b + c", values)

    assert result.reason == "missing_value"
    assert result.detail == "No value for 'b', 'c'"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(math.inf, "not_finite", id="infinity"),
        pytest.param(-math.inf, "not_finite", id="minus-infinity"),
        pytest.param(math.nan, "not_finite", id="nan"),
        pytest.param(10**400, "not_finite", id="huge-int"),
        pytest.param("12", "error", id="text"),
        pytest.param([1], "error", id="list"),
        pytest.param(1j, "error", id="complex"),
    ],
)
def test_unusable_input_values_are_undefined(value: object, reason: str) -> None:
    result = undefined("a > 0", {"a": value})

    assert result.reason == reason
    assert "'a'" in (result.detail or "")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(3, id="int"),
        pytest.param(3.0, id="float"),
        pytest.param(Decimal("3"), id="decimal"),
        pytest.param(Fraction(3), id="fraction"),
    ],
)
def test_numbers_of_any_real_type_are_accepted(value: object) -> None:
    assert evaluate(parse("a / 2"), {"a": value}) == Evaluation(1.5)  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        pytest.param("a + 1", {"a": 1, "unused": None}, 2.0, id="extra-values-ignored"),
        pytest.param("max(2, 3) ** 2", {}, 9.0, id="no-variables"),
    ],
)
def test_values_the_formula_does_not_name_are_not_needed(
    expression: str, values: Mapping[str, float | None], expected: float
) -> None:
    assert value_of(expression, values) == expected


def test_a_failure_leaves_the_interpreter_ready_for_the_next_formula() -> None:
    assert undefined("a / zero").reason == "division_by_zero"

    assert value_of("a / b") == 2.0
    assert _per_thread.interpreter.error == []


def test_large_intermediate_ints_are_never_computed_as_big_integers() -> None:
    # 9.0 ** 10 ** ... is refused by the grammar; what remains is float arithmetic.
    assert value_of("(a ** 10) ** 10", {"a": 9}) == pytest.approx(9.0**100)
    assert undefined("((a ** 10) ** 10) ** 10", {"a": 9}).reason == "overflow"


@pytest.mark.parametrize(
    "expression", ["a / b", "a > b", "not a", "a and b", "round(a)", "big * big", "a / zero"]
)
def test_the_result_is_always_a_finite_float_or_none(expression: str) -> None:
    result = evaluate(parse(expression), VALUES)

    assert (result.value is None) == (result.status == "undefined")
    if result.value is not None:
        assert type(result.value) is float
        assert math.isfinite(result.value)


def test_evaluation_is_a_frozen_consistent_value() -> None:
    ok = Evaluation.ok(2.0)

    assert ok == Evaluation(2.0, "ok", None, None)
    assert evaluate(parse("a"), {"a": 2}) == ok
    with pytest.raises(AttributeError):
        ok.value = 3.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        Evaluation(None)


def test_an_evaluation_from_the_engine_behaves_like_any_other() -> None:
    result = evaluate(parse("a * 2"), {"a": 1.25})

    assert dataclasses.asdict(result) == {
        "value": 2.5,
        "status": "ok",
        "reason": None,
        "detail": None,
    }
    assert pickle.loads(pickle.dumps(result)) == result == Evaluation.ok(2.5)
    assert hash(result) == hash(Evaluation.ok(2.5))
    assert dataclasses.replace(result, value=3.0) == Evaluation(3.0)


def test_concurrent_evaluations_in_threads_are_independent() -> None:
    formulas = {
        "a / b * 100": lambda a, b: a / b * 100,
        "max(a, b) - min(a, b)": lambda a, b: max(a, b) - min(a, b),
        "a * 2 + b if a > b else b * 3 - a": lambda a, b: a * 2 + b if a > b else b * 3 - a,
        "a / (b - 5)": lambda a, b: a / (b - 5) if b != 5 else None,
    }
    checked = {expression: parse(expression) for expression in formulas}
    threads_seen: set[int] = set()

    def work(seed: int) -> list[tuple[float | None, float | None]]:
        threads_seen.add(threading.get_ident())
        answers = []
        for step in range(300):
            a, b = float(seed * 7 + step), float((seed + step) % 11)
            for expression, reference in formulas.items():
                result = evaluate(checked[expression], {"a": a, "b": b})
                expected = None if b == 0 and "/ b" in expression else reference(a, b)
                answers.append((result.value, expected))
        return answers

    with ThreadPoolExecutor(max_workers=8) as pool:
        for answers in pool.map(work, range(16)):
            for value, expected in answers:
                assert value == expected

    assert len(threads_seen) > 1
