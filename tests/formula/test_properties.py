"""Property tests: the engine agrees with plain Python float arithmetic on random formulas."""

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from app.formula import FormulaError, describe, evaluate, parse, to_latex

NAMES = ("a", "b", "c", "d")

BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
FUNCTIONS: Mapping[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}


def name(identifier: str) -> ast.expr:
    return ast.Name(identifier, ast.Load())


def exponent(power: int) -> ast.expr:
    literal = ast.Constant(abs(power))
    return ast.UnaryOp(ast.USub(), literal) if power < 0 else literal


def call(function: str, arguments: list[ast.expr]) -> ast.expr:
    return ast.Call(name(function), arguments, [])


leaves = st.one_of(
    st.sampled_from(NAMES).map(name),
    st.integers(0, 1000).map(ast.Constant),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(ast.Constant),
)


def binary(left: ast.expr, op: type[ast.operator], right: ast.expr) -> ast.expr:
    return ast.BinOp(left, op(), right)


def power(base: ast.expr, power: int) -> ast.expr:
    return ast.BinOp(base, ast.Pow(), exponent(power))


def unary(op: type[ast.unaryop], operand: ast.expr) -> ast.expr:
    return ast.UnaryOp(op(), operand)


def compare(left: ast.expr, op: type[ast.cmpop], right: ast.expr) -> ast.expr:
    return ast.Compare(left, [op()], [right])


def boolean(op: type[ast.boolop], values: list[ast.expr]) -> ast.expr:
    return ast.BoolOp(op(), values)


def extend(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    arithmetic = st.sampled_from([ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod])
    several = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        st.builds(binary, children, arithmetic, children),
        st.builds(power, children, st.integers(-4, 4)),
        st.builds(unary, st.sampled_from([ast.USub, ast.UAdd, ast.Not]), children),
        st.builds(call, st.sampled_from(["min", "max"]), several),
        st.builds(lambda x: call("abs", [x]), children),
        st.builds(compare, children, st.sampled_from(list(COMPARE)), children),
        st.builds(ast.IfExp, children, children, children),
        st.builds(boolean, st.sampled_from([ast.And, ast.Or]), several),
    )


formulas = st.recursive(leaves, extend, max_leaves=12)
numbers = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([0.0, -0.0, 1e200, -1e200, 1e-200, 1.7e308]),  # overflow, tiny, signed zero
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
environments = st.fixed_dictionaries({identifier: numbers for identifier in NAMES})


def reference(node: ast.expr, env: Mapping[str, float]) -> Any:
    """Plain Python evaluation of a generated tree, literals as floats."""
    match node:
        case ast.Constant(value=int(literal) | float(literal)):
            return float(literal)
        case ast.Name(id=identifier):
            return float(env[identifier])
        case ast.BinOp(left=left, op=op, right=right):
            return BINARY[type(op)](reference(left, env), reference(right, env))
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -reference(operand, env)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return +reference(operand, env)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not reference(operand, env)
        case ast.Compare(left=left, ops=[op], comparators=[right]):
            return COMPARE[type(op)](reference(left, env), reference(right, env))
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return reference(body, env) if reference(test, env) else reference(orelse, env)
        case ast.BoolOp(op=op, values=[first, *rest]):
            result = reference(first, env)
            for operand in rest:
                if bool(result) != isinstance(op, ast.And):
                    break
                result = reference(operand, env)
            return result
        case ast.Call(func=ast.Name(id=function), args=arguments):
            return FUNCTIONS[function](*(reference(argument, env) for argument in arguments))
    raise AssertionError(f"unexpected node {ast.dump(node)}")


def expected(node: ast.expr, env: Mapping[str, float]) -> tuple[str, float | str]:
    try:
        result = float(reference(node, env))
    except ZeroDivisionError:
        return ("undefined", "division_by_zero")
    except OverflowError:
        return ("undefined", "overflow")
    if not math.isfinite(result):
        return ("undefined", "not_finite")
    return ("ok", result)


def render(node: ast.expr) -> str:
    return ast.unparse(ast.fix_missing_locations(ast.Expression(node)))


@settings(max_examples=300, deadline=None)
@given(formulas, environments)
def test_engine_matches_python_float_arithmetic(node: ast.expr, env: dict[str, float]) -> None:
    expression = render(node)
    try:
        checked = parse(expression)
    except FormulaError as error:
        assume(error.code not in {"too_long", "too_complex"})
        raise

    result = evaluate(checked, env)

    status, answer = expected(node, env)
    event(f"{status} {answer}" if status == "undefined" else status)
    assert result.status == status, (expression, env, result)
    if status == "ok":
        assert result.value == answer, (expression, env, result)
        assert type(result.value) is float and math.isfinite(result.value)
    else:
        assert (result.value, result.reason) == (None, answer), (expression, env, result)
    assert describe(checked, {}) and to_latex(checked, {"a": "A_%"})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab01.+-*/%()<>=!,_ mnixdroulet\n'[]:", max_size=60) | st.text(max_size=40))
def test_any_text_is_either_a_checked_formula_or_a_formula_error(text: str) -> None:
    try:
        checked = parse(text)
    except FormulaError as error:
        assert error.message
        assert error.offset is None or 0 <= error.offset <= len(text)
        return

    result = evaluate(checked, dict.fromkeys(checked.variables, 1.5))
    assert result.value is None or math.isfinite(result.value)
    assert isinstance(describe(checked, {}), str)
