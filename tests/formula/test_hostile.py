"""Hostile formulas: published asteval escapes and denial-of-service shapes are refused."""

import ast
import sys
import time
import types
from pathlib import Path

import pytest

from app.formula import FUNCTIONS, CheckedFormula, FormulaError, evaluate, parse, validate
from app.formula.engine import _per_thread

KNOWN = {"a", "b", "x", "y", "args", "dict", "str"}
SECONDS = 1.0  # a guard against pathological slowness on a noisy machine, not a benchmark

CVE_2025_24359 = r'''f"{dict.mro()[1]:'\x7B__fstring__.__getattribute__.s\x7D'}"'''
BODY_TAMPERING = """def f():
    return 1
f.body = [0]
f()"""
LONG_SUM = " + ".join(f"a{index}" for index in range(120))

HOSTILE = [
    # Published asteval sandbox escapes.
    pytest.param(CVE_2025_24359, "not_allowed", id="cve-2025-24359-format-spec"),
    pytest.param("'{0}'.format(dict)", "not_allowed", id="str-format-method"),
    pytest.param("str.format('{0}', dict)", "not_allowed", id="str-format-function"),
    pytest.param("'{0.__class__}'.format(a)", "not_allowed", id="format-attribute-field"),
    pytest.param("(lambda: 0).__code__", "not_allowed", id="function-code"),
    pytest.param("f.__body__", "not_allowed", id="procedure-body"),
    pytest.param("f.body[0]", "not_allowed", id="procedure-body-node"),
    pytest.param(BODY_TAMPERING, "not_allowed", id="procedure-body-reassigned"),
    pytest.param("raise SystemExit(1)", "not_allowed", id="cve-2026-55244-raise"),
    pytest.param("().__class__.__bases__[0].__subclasses__()", "not_allowed", id="subclasses"),
    pytest.param("a.__class__.__mro__", "not_allowed", id="mro"),
    pytest.param("__import__('os')", "not_allowed", id="import-function"),
    pytest.param("__import__('os').system('touch SENTINEL')", "not_allowed", id="os-system"),
    pytest.param("import os", "not_allowed", id="import-statement"),
    pytest.param("open('/etc/hostname').read()", "not_allowed", id="open-read"),
    pytest.param("open('SENTINEL', 'w')", "unknown_function", id="open-write"),
    pytest.param("print(open)", "unknown_function", id="print"),
    pytest.param("eval('1')", "unknown_function", id="eval"),
    pytest.param("exec('1')", "unknown_function", id="exec"),
    pytest.param("getattr(a, '__class__')", "unknown_function", id="getattr"),
    pytest.param("__builtins__", "not_allowed", id="builtins"),
    pytest.param("lambda: 0", "not_allowed", id="lambda"),
    pytest.param("(lambda x: x)(1)", "not_allowed", id="lambda-call"),
    pytest.param("[x for x in a]", "not_allowed", id="list-comprehension"),
    pytest.param("{x: 1 for x in a}", "not_allowed", id="dict-comprehension"),
    pytest.param("{x for x in a}", "not_allowed", id="set-comprehension"),
    pytest.param("(x for x in a)", "not_allowed", id="generator"),
    pytest.param("max(x for x in a)", "not_allowed", id="generator-argument"),
    pytest.param("(x := 1)", "not_allowed", id="walrus"),
    pytest.param("min(a, (x := 1))", "not_allowed", id="walrus-argument"),
    # Denial of service.
    pytest.param("9**9**9", "exponent_not_allowed", id="power-tower"),
    pytest.param("(10**10000)**10000", "exponent_not_allowed", id="huge-power"),
    pytest.param("10**9*'a'", "not_allowed", id="string-repeat"),
    pytest.param("'%0999999999d' % 1", "not_allowed", id="percent-format"),
    pytest.param("[0]*10**9", "not_allowed", id="list-repeat"),
    pytest.param("a" * 100_000, "too_long", id="100k-characters"),
    pytest.param("(" * 10_000 + "1" + ")" * 10_000, "too_long", id="10k-parentheses"),
    pytest.param("-" * 400 + "1", "too_complex", id="400-unary-minus"),
    pytest.param("1e16", "literal_too_large", id="large-float"),
    pytest.param("2**100", "exponent_not_allowed", id="large-exponent"),
    pytest.param(LONG_SUM, "too_long", id="600-character-sum"),
    pytest.param("a << 10**6", "not_allowed", id="shift"),
    # Everything else outside the grammar.
    pytest.param("'text'", "not_allowed", id="string"),
    pytest.param("b'bytes'", "not_allowed", id="bytes"),
    pytest.param("None", "not_allowed", id="none"),
    pytest.param("True", "not_allowed", id="true"),
    pytest.param("x[0]", "not_allowed", id="subscript"),
    pytest.param("x.y", "not_allowed", id="attribute"),
    pytest.param("f(x=1)", "unknown_function", id="unknown-function-keyword"),
    pytest.param("max(a, b, key=x)", "not_allowed", id="keyword"),
    pytest.param("*args", "syntax_error", id="starred-alone"),
    pytest.param("max(*args)", "not_allowed", id="starred-argument"),
    pytest.param("a; b", "not_allowed", id="two-statements"),
    pytest.param("a = 1", "not_allowed", id="assignment"),
    pytest.param("a\nb", "not_allowed", id="two-lines"),
    pytest.param("[a, b]", "not_allowed", id="list"),
    pytest.param("{'a': 1}", "not_allowed", id="dict"),
    pytest.param("a if b else x.y", "not_allowed", id="attribute-in-branch"),
]


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    return tmp_path / "sentinel"


@pytest.mark.parametrize(("expression", "code"), HOSTILE)
def test_hostile_formula_is_refused_quickly_and_without_side_effects(
    expression: str, code: str, sentinel: Path
) -> None:
    expression = expression.replace("SENTINEL", str(sentinel))
    modules_before = set(sys.modules)

    started = time.perf_counter()
    with pytest.raises(FormulaError) as caught:
        validate(expression, KNOWN)
    elapsed = time.perf_counter() - started

    assert caught.value.code == code
    assert caught.value.message
    assert elapsed < SECONDS
    assert not sentinel.exists()
    assert set(sys.modules) == modules_before


def test_the_interpreter_holds_only_the_whitelisted_functions_and_the_variables() -> None:
    evaluate(parse("a / 0"), {"a": 1})
    result = evaluate(parse("max(a, b) / 2"), {"a": 4, "b": 2})

    assert result.value == 2.0
    symbols = _per_thread.interpreter.symtable
    assert set(symbols) <= set(FUNCTIONS) | {"a", "b"}
    assert not any(isinstance(value, types.ModuleType) for value in symbols.values())
    assert "open" not in symbols
    assert "print" not in symbols


@pytest.mark.parametrize(
    "program",
    [
        pytest.param("open('SENTINEL', 'w')", id="open"),
        pytest.param("__import__('os').system('touch SENTINEL')", id="import"),
        pytest.param("print('SENTINEL')", id="print"),
        pytest.param("dict.mro()", id="dict"),
        pytest.param("[c for c in ().__class__.__base__.__subclasses__()]", id="subclasses"),
    ],
)
def test_a_tree_that_bypassed_the_check_still_finds_nothing_to_call(
    program: str, sentinel: Path
) -> None:
    # Defence in depth: the interpreter's own symbol table has nothing dangerous in it.
    tree = ast.parse(program.replace("SENTINEL", str(sentinel)), mode="eval")
    forged = CheckedFormula(program, (), (), (), tree)

    result = evaluate(forged, {})

    assert result.status == "undefined"
    assert result.reason == "error"
    assert not sentinel.exists()
    assert evaluate(parse("a + 1"), {"a": 1}).value == 2.0
