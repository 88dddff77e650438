"""describe() and to_latex(): the formula with the variables' Indonesian labels."""

from collections.abc import Callable

import pytest

from app.formula import describe, parse, to_latex

LABELS = {
    "psks_diberdayakan": "Jumlah PSKS yang mendapatkan Pemberdayaan Sosial",
    "psks_terdata": "Total Jumlah PSKS yang terdata",
    "a": "A",
    "b": "B",
    "c": "C",
}


@pytest.mark.parametrize(
    ("write", "written"),
    [
        pytest.param(
            describe,
            "(Jumlah PSKS yang mendapatkan Pemberdayaan Sosial / Total Jumlah PSKS yang terdata)"
            " x 100",
            id="words",
        ),
        pytest.param(
            to_latex,
            r"\frac{\text{Jumlah PSKS yang mendapatkan Pemberdayaan Sosial}}"
            r"{\text{Total Jumlah PSKS yang terdata}} \times 100",
            id="latex",
        ),
    ],
)
def test_the_example_from_the_design(write: Callable[..., str], written: str) -> None:
    checked = parse("psks_diberdayakan / psks_terdata * 100")

    assert write(checked, LABELS) == written


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        pytest.param("a / b", "A / B", id="division-alone"),
        pytest.param("(a + b) / c", "(A + B) / C", id="sum-over"),
        pytest.param("a / (b * c)", "A / (B x C)", id="product-under"),
        pytest.param("a * b / c", "(A x B) / C", id="product-over"),
        pytest.param("a / b / c", "(A / B) / C", id="division-of-division"),
        pytest.param("a + b / c", "A + (B / C)", id="division-in-sum"),
        pytest.param("a / b + c", "(A / B) + C", id="division-first-in-sum"),
        pytest.param("a - (b - c)", "A - (B - C)", id="right-subtraction"),
        pytest.param("a - b - c", "A - B - C", id="left-subtraction"),
        pytest.param("(a + b) * c", "(A + B) x C", id="sum-times"),
        pytest.param("a + b * c", "A + B x C", id="no-needless-parentheses"),
        pytest.param("-a ** 2", "-A^2", id="minus-power"),
        pytest.param("(-a) ** 2", "(-A)^2", id="power-of-minus"),
        pytest.param("a ** -2", "A^(-2)", id="negative-exponent"),
        pytest.param("(a / b) ** 2", "(A / B)^2", id="power-of-division"),
        pytest.param("-(a / b)", "-(A / B)", id="minus-division"),
        pytest.param("a // b + a % b", "A div B + A mod B", id="div-mod"),
        pytest.param("a >= b and not c", "A ≥ B dan bukan C", id="boolean"),
        pytest.param("a or b and c", "A atau (B dan C)", id="boolean-grouping"),
        pytest.param("not a > b", "bukan (A > B)", id="not-comparison"),
        pytest.param("100 if a > b else 0", "100 jika A > B, selain itu 0", id="if-else"),
        pytest.param("(a if b else c) * 2", "(A jika B, selain itu C) x 2", id="if-else-operand"),
        pytest.param("min(a, b) + max(a, 1)", "min(A, B) + maks(A, 1)", id="min-max"),
        pytest.param("abs(a - b)", "|A - B|", id="abs"),
        pytest.param("round(a / b, 2)", "pembulatan(A / B, 2)", id="round"),
        pytest.param("a * 0.5 + 1e-07", "A x 0.5 + 1e-07", id="numbers"),
        pytest.param("unlabelled * 2", "unlabelled x 2", id="falls-back-to-code"),
    ],
)
def test_describe(expression: str, words: str) -> None:
    assert describe(parse(expression), LABELS) == words


@pytest.mark.parametrize(
    ("expression", "latex"),
    [
        pytest.param("a / b", r"\frac{\text{A}}{\text{B}}", id="fraction"),
        pytest.param("(a + b) / c", r"\frac{\text{A} + \text{B}}{\text{C}}", id="no-parentheses"),
        pytest.param("a // b", r"\left\lfloor \frac{\text{A}}{\text{B}} \right\rfloor", id="floor"),
        pytest.param("a % b", r"\text{A} \bmod \text{B}", id="modulo"),
        pytest.param("(a - b) * c", r"\left(\text{A} - \text{B}\right) \times \text{C}", id="sum"),
        pytest.param("(a / b) ** 2", r"\left(\frac{\text{A}}{\text{B}}\right)^{2}", id="power"),
        pytest.param("a ** -2", r"\text{A}^{-2}", id="negative-exponent"),
        pytest.param("a != b", r"\text{A} \neq \text{B}", id="not-equal"),
        pytest.param("a <= b or not c", r"\text{A} \leq \text{B} \lor \lnot \text{C}", id="logic"),
        pytest.param("abs(a)", r"\left|\text{A}\right|", id="abs"),
        pytest.param("min(a, 1)", r"\min\left(\text{A}, 1\right)", id="min"),
        pytest.param(
            "round(a, 2)", r"\operatorname{pembulatan}\left(\text{A}, 2\right)", id="round"
        ),
        pytest.param(
            "a if b else c",
            r"\begin{cases} \text{A} & \text{jika } \text{B} \\ \text{C} & \text{selain itu} "
            r"\end{cases}",
            id="if-else",
        ),
        pytest.param("unlabelled_code", r"\text{unlabelled\_code}", id="code-escaped"),
    ],
)
def test_to_latex(expression: str, latex: str) -> None:
    assert to_latex(parse(expression), LABELS) == latex


def test_latex_escapes_special_characters_in_labels() -> None:
    labels = {"x": r"50% & _a_ #1 $2 {b} ~c^ \d"}

    assert to_latex(parse("x"), labels) == (
        r"\text{50\% \& \_a\_ \#1 \$2 \{b\} \textasciitilde{}c\textasciicircum{} "
        r"\textbackslash{}d}"
    )


def test_an_empty_label_falls_back_to_the_code() -> None:
    assert describe(parse("a + 1"), {"a": ""}) == "a + 1"
