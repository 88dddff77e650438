"""parse() and validate(): the allow-list, error codes, messages and offsets."""

import ast
import pickle

import pytest

from app.formula import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    CheckedFormula,
    FormulaError,
    grammar,
    parse,
    validate,
)


def refusal(expression: str) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        parse(expression)
    return caught.value


def test_parse_lists_variables_and_functions_in_order_of_first_appearance() -> None:
    checked = parse("max(b, a) / (a + c) * 100 + round(b)")

    assert checked.variables == ("b", "a", "c")
    assert checked.variable_offsets == (4, 7, 17)
    assert checked.functions == ("max", "round")
    assert checked.expression == "max(b, a) / (a + c) * 100 + round(b)"


def test_parse_turns_int_literals_into_floats() -> None:
    checked = parse("2 ** 10 + 7 // 2 + 0.5")

    literals = [node for node in ast.walk(checked.tree) if isinstance(node, ast.Constant)]
    assert literals
    assert all(type(node.value) is float for node in literals)


def test_parse_is_cached_per_text() -> None:
    assert parse("a / b * 100") is parse("a / b * 100")


def test_checked_formula_compares_and_prints_without_its_tree() -> None:
    checked = parse("a + 1")

    assert "tree" not in repr(checked)
    assert checked == CheckedFormula("a + 1", ("a",), (), (0,), ast.Expression(ast.Constant(0)))


def test_functions_are_the_documented_whitelist() -> None:
    assert set(FUNCTIONS) == {"min", "max", "abs", "round"}


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("a", id="name"),
        pytest.param("  a + b  ", id="surrounding-blanks"),
        pytest.param("(a +\n b) * 2", id="line-break-in-parentheses"),
        pytest.param("a / b * 100  # persen", id="comment"),
        pytest.param("-a + +b - -1", id="unary"),
        pytest.param("a // b % 3", id="floor-division-and-modulo"),
        pytest.param("a ** 2 + a ** -10 + a ** 10", id="small-exponents"),
        pytest.param("1 < a <= b == c != d >= 0 > -1", id="comparisons"),
        pytest.param("a and b or not c", id="boolean"),
        pytest.param("a if b > 0 else c", id="if-else"),
        pytest.param("min(a, b, c) + max(a, 1) + abs(a) + round(a) + round(a, 2)", id="calls"),
        pytest.param("1e15 + 0.000001 + 1_000", id="literals"),
    ],
)
def test_parse_accepts_the_allowed_grammar(expression: str) -> None:
    assert isinstance(parse(expression), CheckedFormula)


@pytest.mark.parametrize(
    ("expression", "code", "offset", "name", "message"),
    [
        pytest.param("", "empty", None, None, "The formula is empty", id="empty"),
        pytest.param(" \n\t ", "empty", None, None, "The formula is empty", id="blank"),
        pytest.param("a +", "syntax_error", 3, None, "is missing", id="dangling-operator"),
        pytest.param("a + * b", "syntax_error", 4, None, "is missing", id="two-operators"),
        pytest.param("min(a, b", "syntax_error", 3, None, "'(' was never closed", id="unclosed"),
        pytest.param("(a + b))", "syntax_error", 7, None, "unmatched ')'", id="unmatched"),
        pytest.param("a ≤ b", "not_ascii", 2, None, "U+2264", id="unicode-operator"),
        pytest.param("a\x00", "syntax_error", 1, None, "not allowed", id="null-byte"),
        pytest.param("min(a)", "syntax_error", 0, "min", "at least 2 values", id="min-arity"),
        pytest.param("abs(a, b)", "syntax_error", 0, "abs", "exactly 1 value", id="abs-arity"),
        pytest.param("round()", "syntax_error", 0, "round", "1 to 2 values", id="round-arity"),
        pytest.param("a.b", "not_allowed", 0, None, "Attribute access", id="attribute"),
        pytest.param("a[0]", "not_allowed", 0, None, "Indexing", id="subscript"),
        pytest.param("a + 'x'", "not_allowed", 4, None, "Text in quotes", id="string"),
        pytest.param("b'x'", "not_allowed", 0, None, "Bytes", id="bytes"),
        pytest.param("f'{a}'", "not_allowed", 0, None, "f-strings", id="f-string"),
        pytest.param("True + 1", "not_allowed", 0, None, "write 1 or 0", id="bool"),
        pytest.param("a + None", "not_allowed", 4, None, "None", id="none"),
        pytest.param("2j", "not_allowed", 0, None, "Complex", id="complex"),
        pytest.param("...", "not_allowed", 0, None, "not allowed", id="ellipsis"),
        pytest.param("lambda: 1", "not_allowed", 0, None, "Lambda", id="lambda"),
        pytest.param("(a := 1)", "not_allowed", 1, None, "':='", id="walrus"),
        pytest.param("[a for a in b]", "not_allowed", 0, None, "Comprehensions", id="listcomp"),
        pytest.param("min(*a)", "not_allowed", 4, "min", "'*'", id="starred"),
        pytest.param("abs(**a)", "not_allowed", 4, "abs", "'**'", id="double-starred"),
        pytest.param("round(a, n=2)", "not_allowed", 9, "round", "'n='", id="keyword"),
        pytest.param("_a + 1", "not_allowed", 0, "_a", "starting with '_'", id="underscore"),
        pytest.param("__import__('os')", "not_allowed", 0, "__import__", "'_'", id="dunder-call"),
        pytest.param("min + 1", "not_allowed", 0, "min", "is a function", id="function-as-name"),
        pytest.param("a + é", "not_ascii", 4, None, "U+00E9", id="non-ascii-name"),
        pytest.param("a ^ 2", "not_allowed", 2, None, "write '**'", id="caret"),
        pytest.param("a & b", "not_allowed", 2, None, "'&'", id="bit-and"),
        pytest.param("~a", "not_allowed", 0, None, "'~'", id="invert"),
        pytest.param("a in b", "not_allowed", 2, None, "'in'", id="in"),
        pytest.param("a is b", "not_allowed", 2, None, "'is'", id="is"),
        pytest.param("0,5", "not_allowed", 0, None, "decimals with a point", id="decimal-comma"),
        pytest.param("a = 1", "not_allowed", 0, None, "Assignment", id="assignment"),
        pytest.param("a; b", "not_allowed", 3, None, "single expression", id="two-statements"),
        pytest.param("import os", "not_allowed", 0, None, "'import'", id="import"),
        pytest.param("sqrt(a)", "unknown_function", 0, "sqrt", "Unknown function", id="unknown"),
        pytest.param("a + f(1)", "unknown_function", 4, "f", "abs, max, min", id="unknown-2"),
        pytest.param("(a).b()", "not_allowed", 0, None, "by name", id="method-call"),
        pytest.param("1e16", "literal_too_large", 0, None, "1e16 is too large", id="float-literal"),
        pytest.param("a * 10000000000000001", "literal_too_large", 4, None, "10000000000000001",
                     id="int-literal"),
        pytest.param("1e999", "literal_too_large", 0, None, "too large", id="infinite-literal"),
        pytest.param("a ** 11", "exponent_not_allowed", 5, None, "-10 to 10", id="exponent-11"),
        pytest.param("a ** -11", "exponent_not_allowed", 5, None, "whole", id="exponent-neg"),
        pytest.param("a ** 0.5", "exponent_not_allowed", 5, None, "whole", id="exponent-float"),
        pytest.param("a ** b", "exponent_not_allowed", 5, None, "e.g. x ** 2", id="exponent-name"),
        pytest.param("2 ** (1 + 1)", "exponent_not_allowed", 6, None, "'**'", id="exponent-sum"),
        pytest.param("a" * (MAX_LENGTH + 1), "too_long", MAX_LENGTH, None, "limit is 500",
                     id="too-long"),
        pytest.param("-" * 40 + "a", "too_complex", MAX_DEPTH, None, "more than 32 levels",
                     id="too-deep"),
        pytest.param("min(" + "a," * 205 + "a)", "too_complex", None, None, "more than 200 parts",
                     id="too-many-nodes"),
        pytest.param("(" * 201 + "a" + ")" * 201, "too_complex", 200, None, "parentheses",
                     id="too-many-parentheses"),
    ],
)  # fmt: skip
def test_refusals_have_a_code_an_offset_and_a_message(
    expression: str, code: str, offset: int | None, name: str | None, message: str
) -> None:
    error = refusal(expression)

    assert error.code == code
    if offset is not None:
        assert error.offset == offset
    assert error.name == name
    assert message in error.message
    assert str(error) == error.message


@pytest.mark.parametrize(
    ("expression", "offset"),
    [
        pytest.param("  a.b", 2, id="leading-blanks"),
        pytest.param("ab + + )", 7, id="syntax-error"),
        pytest.param("é + + )", 0, id="not-ascii-before-parsing"),
        pytest.param("\n  (a +\n  b.c)", 10, id="line-breaks"),
    ],
)
def test_offsets_are_characters_into_the_text_as_given(expression: str, offset: int) -> None:
    assert refusal(expression).offset == offset


def test_limits_are_the_documented_constants() -> None:
    assert parse("a" * MAX_LENGTH).variables == ("a" * MAX_LENGTH,)
    assert parse("-" * (MAX_DEPTH - 1) + "a").variables == ("a",)
    assert refusal("-" * MAX_DEPTH + "a").code == "too_complex"
    widest = "min(" + ",".join(["a"] * (MAX_NODES - 1)) + ")"  # a call and its values
    assert parse(widest).functions == ("min",)
    assert refusal(widest.replace("(", "(a,")).code == "too_complex"


def test_a_formula_over_the_length_limit_never_reaches_the_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("ast.parse was called")

    monkeypatch.setattr(grammar.ast, "parse", fail)

    assert refusal("(" * 10_000 + "a" + ")" * 10_000).code == "too_long"
    assert refusal("a + " * 25_000 + "a").code == "too_long"


@pytest.mark.parametrize("exception", [RecursionError, MemoryError], ids=lambda e: e.__name__)
def test_parser_exhaustion_is_too_complex(
    monkeypatch: pytest.MonkeyPatch, exception: type[Exception]
) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise exception

    monkeypatch.setattr(grammar.ast, "parse", exhausted)

    assert refusal(f"exhausted_{exception.__name__} + 1").code == "too_complex"


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(FormulaError) as caught:
        parse(12)  # type: ignore[arg-type]

    assert caught.value.code == "syntax_error"


def test_validate_accepts_known_variables() -> None:
    checked = validate(
        "psks_diberdayakan / psks_terdata * 100", ["psks_terdata", "psks_diberdayakan"]
    )

    assert checked.variables == ("psks_diberdayakan", "psks_terdata")


@pytest.mark.parametrize(
    ("expression", "known", "name", "offset", "message"),
    [
        pytest.param(
            "psks_diberdayakan / psks_terdatax * 100",
            {"psks_diberdayakan", "psks_terdata"},
            "psks_terdatax",
            20,
            "Unknown variable 'psks_terdatax'; did you mean 'psks_terdata'?",
            id="with-a-suggestion",
        ),
        pytest.param(
            "a + zzz + qqq",
            {"a", "psks_terdata"},
            "zzz",
            4,
            "Unknown variable 'zzz'",
            id="the-first-without-a-far-fetched-suggestion",
        ),
    ],
)
def test_validate_refuses_an_unknown_variable_with_its_offset(
    expression: str, known: set[str], name: str, offset: int, message: str
) -> None:
    with pytest.raises(FormulaError) as caught:
        validate(expression, known)

    error = caught.value
    assert error.code == "unknown_variable"
    assert error.name == name
    assert error.offset == offset
    assert error.message == message


def test_validate_checks_the_grammar_first() -> None:
    with pytest.raises(FormulaError) as caught:
        validate("unknown.attribute", {"a"})

    assert caught.value.code == "not_allowed"


def test_formula_error_survives_pickling_and_has_a_useful_repr() -> None:
    error = FormulaError("unknown_variable", "Unknown variable 'x'", 4, "x")

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.code, copy.message, copy.offset, copy.name) == (
        "unknown_variable",
        error.message,
        4,
        "x",
    )
    assert "unknown_variable" in repr(error)
