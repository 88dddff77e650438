"""A checked formula in words, as LaTeX or as HTML, with the variables' labels."""

from __future__ import annotations

import ast
import html
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Final

from app.formula.grammar import CheckedFormula

# Binding strength, loosest first, as in Python.
_IF_ELSE: Final = 0
_OR: Final = 1
_AND: Final = 2
_NOT: Final = 3
_COMPARE: Final = 4
_SUM: Final = 5
_PRODUCT: Final = 6
_UNARY: Final = 7
_POWER: Final = 8
_ATOM: Final = 9

_STRENGTHS: Final[Mapping[type[ast.operator], int]] = {
    ast.Add: _SUM,
    ast.Sub: _SUM,
    ast.Mult: _PRODUCT,
    ast.Div: _PRODUCT,
    ast.FloorDiv: _PRODUCT,
    ast.Mod: _PRODUCT,
    ast.Pow: _POWER,
}

_LATEX_SPECIALS: Final = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "%": r"\%",
        "&": r"\&",
        "_": r"\_",
        "#": r"\#",
        "$": r"\$",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
)


def describe(checked: CheckedFormula, labels: Mapping[str, str]) -> str:
    """The formula in words, each variable shown by its label (by its code if it has none)."""
    return _Words(labels).render(checked.tree.body)[0]


def to_latex(checked: CheckedFormula, labels: Mapping[str, str]) -> str:
    """The formula as LaTeX math, each variable shown by its escaped label."""
    return _Latex(labels).render(checked.tree.body)[0]


def to_html(checked: CheckedFormula, labels: Mapping[str, str], *, percent: bool = False) -> str:
    """The formula as an HTML fragment for printed documents: each division a fraction (the
    numerator over the denominator), each label escaped; with `percent`, a formula that ends
    in `* 100` reads "x 100%", as the SK writes it."""
    body = checked.tree.body
    text = _Html(labels).render(body)[0]
    if percent and _times_hundred(body):
        text += "%"
    return f'<span class="formula">{text}</span>'


def _times_hundred(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and isinstance(node.right, ast.Constant)
        and node.right.value == 100
    )


class _Writer(ABC):
    """Renders a checked tree, adding parentheses where binding strength needs them."""

    operators: ClassVar[Mapping[type[ast.operator], str]]
    comparisons: ClassVar[Mapping[type[ast.cmpop], str]]
    unary: ClassVar[Mapping[type[ast.unaryop], str]]
    and_or: ClassVar[Mapping[type[ast.boolop], str]]
    functions: ClassVar[Mapping[str, str]]

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.labels = labels

    def render(self, node: ast.expr) -> tuple[str, int]:
        """The text of a node and how strongly it binds."""
        match node:
            case ast.Constant(value=value):
                return _number(value), _ATOM
            case ast.Name(id=name):
                return self.variable(self.labels.get(name) or name), _ATOM
            case ast.BinOp():
                return self.binary(node)
            case ast.UnaryOp(op=operator, operand=operand):
                strength = _NOT if isinstance(operator, ast.Not) else _UNARY
                return self.unary[type(operator)] + self.term(operand, _UNARY), strength
            case ast.BoolOp(op=operator, values=values):
                strength = _AND if isinstance(operator, ast.And) else _OR
                joined = self.and_or[type(operator)].join(
                    self.operand(value, _AND + 1) for value in values
                )
                return joined, strength
            case ast.Compare(left=left, ops=operators, comparators=comparators):
                parts = [self.operand(left, _COMPARE + 1)]
                for comparison, right in zip(operators, comparators, strict=True):
                    parts += [self.comparisons[type(comparison)], self.operand(right, _COMPARE + 1)]
                return " ".join(parts), _COMPARE
            case ast.IfExp(test=test, body=body, orelse=orelse):
                body_text, test_text, orelse_text = (
                    self.operand(part, _IF_ELSE + 1) for part in (body, test, orelse)
                )
                return self.if_else(body_text, test_text, orelse_text), _IF_ELSE
            case ast.Call(func=ast.Name(id=function), args=arguments):
                return self.call(function, [self.operand(a, _IF_ELSE + 1) for a in arguments])
        raise ValueError(f"not a node of a checked formula: {type(node).__name__}")

    def operand(self, node: ast.expr, weakest: int) -> str:
        """A node's text, parenthesized if it binds less strongly than `weakest`."""
        text, strength = self.render(node)
        return self.wrap(text) if strength < weakest else text

    def term(self, node: ast.expr, weakest: int) -> str:
        """An operand of arithmetic."""
        return self.operand(node, weakest)

    def binary(self, node: ast.BinOp) -> tuple[str, int]:
        strength = _STRENGTHS[type(node.op)]
        if isinstance(node.op, ast.Pow):
            # Right-associative: a base of equal strength needs parentheses.
            return self.power(self.term(node.left, strength + 1), node.right), strength
        # Left-associative: a right operand of equal strength needs parentheses.
        left = self.term(node.left, strength)
        right = self.term(node.right, strength + 1)
        return f"{left}{self.operators[type(node.op)]}{right}", strength

    @abstractmethod
    def variable(self, label: str) -> str:
        """Written by each output format."""

    @abstractmethod
    def wrap(self, text: str) -> str:
        """Written by each output format."""

    @abstractmethod
    def power(self, base: str, exponent: ast.expr) -> str:
        """Written by each output format."""

    @abstractmethod
    def if_else(self, body: str, test: str, orelse: str) -> str:
        """Written by each output format."""

    @abstractmethod
    def call(self, function: str, arguments: list[str]) -> tuple[str, int]:
        """Written by each output format."""


class _Words(_Writer):
    """Plain text, e.g. "(A / B) x 100"."""

    operators: ClassVar[Mapping[type[ast.operator], str]] = {
        ast.Add: " + ",
        ast.Sub: " - ",
        ast.Mult: " x ",
        ast.Div: " / ",
        ast.FloorDiv: " div ",
        ast.Mod: " mod ",
    }
    comparisons: ClassVar[Mapping[type[ast.cmpop], str]] = {
        ast.Eq: "=",
        ast.NotEq: "≠",
        ast.Lt: "<",
        ast.LtE: "≤",
        ast.Gt: ">",
        ast.GtE: "≥",
    }
    unary: ClassVar[Mapping[type[ast.unaryop], str]] = {
        ast.USub: "-",
        ast.UAdd: "+",
        ast.Not: "bukan ",
    }
    and_or: ClassVar[Mapping[type[ast.boolop], str]] = {ast.And: " dan ", ast.Or: " atau "}
    functions: ClassVar[Mapping[str, str]] = {"min": "min", "max": "maks", "round": "pembulatan"}

    def binary(self, node: ast.BinOp) -> tuple[str, int]:
        if isinstance(node.op, ast.Div):
            # Both parts of a division are shown whole: "(A x B) / C".
            left = self.term(node.left, _PRODUCT + 1)
            right = self.term(node.right, _PRODUCT + 1)
            return f"{left} / {right}", _PRODUCT
        return super().binary(node)

    def term(self, node: ast.expr, weakest: int) -> str:
        # A division inside arithmetic is always parenthesized, so its two parts stand out.
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.wrap(self.render(node)[0])
        return self.operand(node, weakest)

    def variable(self, label: str) -> str:
        return label

    def wrap(self, text: str) -> str:
        return f"({text})"

    def power(self, base: str, exponent: ast.expr) -> str:
        return f"{base}^{self.operand(exponent, _ATOM)}"

    def if_else(self, body: str, test: str, orelse: str) -> str:
        return f"{body} jika {test}, selain itu {orelse}"

    def call(self, function: str, arguments: list[str]) -> tuple[str, int]:
        if function == "abs":
            return f"|{arguments[0]}|", _ATOM
        return f"{self.functions.get(function, function)}({', '.join(arguments)})", _ATOM


class _Fractions(_Writer):
    """A writer that shows each division as a fraction (and a floor division as its floor)."""

    def binary(self, node: ast.BinOp) -> tuple[str, int]:
        if isinstance(node.op, ast.Div | ast.FloorDiv):
            shown = self.fraction(self.render(node.left)[0], self.render(node.right)[0])
            if isinstance(node.op, ast.FloorDiv):
                return self.floor(shown), _ATOM
            # Self-delimiting: only a power's base needs it parenthesized, as for -x.
            return shown, _UNARY
        return super().binary(node)

    @abstractmethod
    def fraction(self, numerator: str, denominator: str) -> str:
        """Written by each output format."""

    @abstractmethod
    def floor(self, text: str) -> str:
        """Written by each output format."""


class _Latex(_Fractions):
    r"""LaTeX math, e.g. "\frac{A}{B} \times 100"."""

    operators: ClassVar[Mapping[type[ast.operator], str]] = {
        ast.Add: " + ",
        ast.Sub: " - ",
        ast.Mult: r" \times ",
        ast.Mod: r" \bmod ",
    }
    comparisons: ClassVar[Mapping[type[ast.cmpop], str]] = {
        ast.Eq: "=",
        ast.NotEq: r"\neq",
        ast.Lt: "<",
        ast.LtE: r"\leq",
        ast.Gt: ">",
        ast.GtE: r"\geq",
    }
    unary: ClassVar[Mapping[type[ast.unaryop], str]] = {
        ast.USub: "-",
        ast.UAdd: "+",
        ast.Not: r"\lnot ",
    }
    and_or: ClassVar[Mapping[type[ast.boolop], str]] = {ast.And: r" \land ", ast.Or: r" \lor "}
    functions: ClassVar[Mapping[str, str]] = {
        "min": r"\min",
        "max": r"\max",
        "round": r"\operatorname{pembulatan}",
    }

    def fraction(self, numerator: str, denominator: str) -> str:
        return rf"\frac{{{numerator}}}{{{denominator}}}"

    def floor(self, text: str) -> str:
        return rf"\left\lfloor {text} \right\rfloor"

    def variable(self, label: str) -> str:
        return rf"\text{{{label.translate(_LATEX_SPECIALS)}}}"

    def wrap(self, text: str) -> str:
        return rf"\left({text}\right)"

    def power(self, base: str, exponent: ast.expr) -> str:
        return f"{base}^{{{self.render(exponent)[0]}}}"

    def if_else(self, body: str, test: str, orelse: str) -> str:
        return (
            rf"\begin{{cases}} {body} & \text{{jika }} {test} \\ "
            rf"{orelse} & \text{{selain itu}} \end{{cases}}"
        )

    def call(self, function: str, arguments: list[str]) -> tuple[str, int]:
        if function == "abs":
            return rf"\left|{arguments[0]}\right|", _ATOM
        name = self.functions.get(function, rf"\operatorname{{{function}}}")
        return rf"{name}\left({', '.join(arguments)}\right)", _ATOM


class _Html(_Fractions, _Words):
    """HTML, e.g. a fraction as a numerator over a rule over a denominator, then " x 100"."""

    operators: ClassVar[Mapping[type[ast.operator], str]] = {
        ast.Add: " + ",
        ast.Sub: " &minus; ",
        ast.Mult: " x ",
        ast.Mod: " mod ",
    }
    comparisons: ClassVar[Mapping[type[ast.cmpop], str]] = {
        ast.Eq: "=",
        ast.NotEq: "&ne;",
        ast.Lt: "&lt;",
        ast.LtE: "&le;",
        ast.Gt: "&gt;",
        ast.GtE: "&ge;",
    }
    unary: ClassVar[Mapping[type[ast.unaryop], str]] = {**_Words.unary, ast.USub: "&minus;"}

    def term(self, node: ast.expr, weakest: int) -> str:
        # A fraction stands out by itself: no parentheses around it, as in the SK.
        return self.operand(node, weakest)

    def fraction(self, numerator: str, denominator: str) -> str:
        return (
            f'<span class="frac"><span class="num">{numerator}</span>'
            f'<span class="den">{denominator}</span></span>'
        )

    def floor(self, text: str) -> str:
        return f"&lfloor;{text}&rfloor;"

    def variable(self, label: str) -> str:
        return f'<span class="var">{html.escape(label)}</span>'

    def power(self, base: str, exponent: ast.expr) -> str:
        return f"{base}<sup>{self.render(exponent)[0]}</sup>"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
