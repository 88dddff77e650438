"""to_html(): the formula as the SK prints it, a fraction of the variables' labels."""

import pytest

from app.formula import parse, to_html
from tests.formula.test_describe import LABELS


def _frac(numerator: str, denominator: str) -> str:
    return (
        f'<span class="frac"><span class="num">{numerator}</span>'
        f'<span class="den">{denominator}</span></span>'
    )


def _var(label: str) -> str:
    return f'<span class="var">{label}</span>'


def test_a_percentage_is_a_fraction_times_hundred_percent() -> None:
    checked = parse("psks_diberdayakan / psks_terdata * 100")

    assert to_html(checked, LABELS, percent=True) == (
        '<span class="formula">'
        + _frac(
            _var("Jumlah PSKS yang mendapatkan Pemberdayaan Sosial"),
            _var("Total Jumlah PSKS yang terdata"),
        )
        + " x 100%</span>"
    )


@pytest.mark.parametrize(
    ("expression", "percent", "ending"),
    [
        pytest.param("a / b * 100", False, " x 100</span>", id="hundred-without-percent"),
        pytest.param("a / b * 10", True, " x 10</span>", id="times-ten"),
        pytest.param("a / b", True, _frac(_var("A"), _var("B")) + "</span>", id="no-factor"),
    ],
)
def test_percent_only_when_asked_and_after_a_final_times_hundred(
    expression: str, percent: bool, ending: str
) -> None:
    text = to_html(parse(expression), LABELS, percent=percent)

    assert text.endswith(ending)
    assert "%" not in text


@pytest.mark.parametrize(
    ("expression", "inner"),
    [
        pytest.param("a", _var("A"), id="a-count-is-its-label"),
        pytest.param("(a + b) / c", _frac(f"{_var('A')} + {_var('B')}", _var("C")), id="sum-over"),
        pytest.param(
            "a / (b - c)", _frac(_var("A"), f"{_var('B')} &minus; {_var('C')}"), id="under"
        ),
        pytest.param(
            "a / b / c", _frac(_frac(_var("A"), _var("B")), _var("C")), id="nested-fractions"
        ),
        pytest.param("(a + b) * c", f"({_var('A')} + {_var('B')}) x {_var('C')}", id="parens"),
        pytest.param("a ** 2", f"{_var('A')}<sup>2</sup>", id="power"),
        pytest.param("a // b", f"&lfloor;{_frac(_var('A'), _var('B'))}&rfloor;", id="floor"),
        pytest.param("abs(a - b)", f"|{_var('A')} &minus; {_var('B')}|", id="abs"),
        pytest.param("max(a, b)", f"maks({_var('A')}, {_var('B')})", id="function"),
        pytest.param(
            "a if b < c else 0",
            f"{_var('A')} jika {_var('B')} &lt; {_var('C')}, selain itu 0",
            id="if-else",
        ),
    ],
)
def test_shapes(expression: str, inner: str) -> None:
    assert to_html(parse(expression), LABELS) == f'<span class="formula">{inner}</span>'


def test_labels_are_escaped() -> None:
    labels = {"a": "<script>alert(1)</script> & co", "b": 'B"'}

    text = to_html(parse("a / b"), labels)

    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "B&quot;" in text


def test_a_variable_without_label_shows_its_code() -> None:
    assert _var("zzz") in to_html(parse("zzz / a"), {})
