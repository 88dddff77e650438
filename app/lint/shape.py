"""What a checked formula computes: a percentage, a ratio or a count, and over which variables."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum

from app.formula import CheckedFormula


class Kind(Enum):
    """The kind of quantity a formula yields."""

    percentage = "percentage"
    """`a / b * 100`, `(a / b) * 100`, `a * 100 / b`, `100 * a / b`."""
    ratio = "ratio"
    """`a / b` without the factor 100."""
    count = "count"
    """`a`, `a + b`, `2 * a`: variables added up, no division."""
    other = "other"
    """Anything else (conditions, functions, differences ...)."""


@dataclass(frozen=True)
class Shape:
    """A formula's kind, its numerator and denominator variables, and whether it compares."""

    kind: Kind
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    compares: bool = False
    """The numerator is a difference (e.g. `(a - a_lalu) / a_lalu * 100`): a change over a
    baseline, not a plain proportion."""
    parts: tuple[ast.expr, ast.expr] | None = field(default=None, compare=False, repr=False)
    """A percentage's or ratio's numerator and denominator, as subtrees of the formula."""

    @property
    def is_proportion(self) -> bool:
        return self.kind in (Kind.percentage, Kind.ratio)


def shape_of(checked: CheckedFormula) -> Shape:
    """The shape of a checked formula, read from its tree."""
    body = checked.tree.body
    percentage = False
    unscaled = _without_hundred(body)
    if unscaled is not None:
        body, percentage = unscaled, True
    if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Div):
        left = body.left
        inner = _without_hundred(left)
        if inner is not None:  # a * 100 / b
            left, percentage = inner, True
        return Shape(
            Kind.percentage if percentage else Kind.ratio,
            _names(left),
            _names(body.right),
            compares=_has_difference(left),
            parts=(left, body.right),
        )
    if not percentage and _is_sum(body):
        return Shape(Kind.count, _names(body))
    return Shape(Kind.other, _names(checked.tree.body))


def dump(checked: CheckedFormula) -> str:
    """The formula's tree as text: equal for formulas that differ only in blanks or
    redundant parentheses."""
    return ast.dump(checked.tree.body, annotate_fields=False)


def _is_hundred(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == 100


def _without_hundred(node: ast.expr) -> ast.expr | None:
    """`x` of `x * 100` or `100 * x`, else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        if _is_hundred(node.right):
            return node.left
        if _is_hundred(node.left):
            return node.right
    return None


def _is_sum(node: ast.expr) -> bool:
    """Variables and constants added up (a constant factor allowed): a count."""
    match node:
        case ast.Name():
            return True
        case ast.BinOp(op=ast.Add(), left=left, right=right):
            return _is_sum(left) and _is_sum(right)
        case (
            ast.BinOp(op=ast.Mult(), left=ast.Constant(), right=operand)
            | ast.BinOp(op=ast.Mult(), left=operand, right=ast.Constant())
        ):
            return _is_sum(operand)
    return False


def _has_difference(node: ast.expr) -> bool:
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) for n in ast.walk(node))


def _names(node: ast.expr) -> tuple[str, ...]:
    """Variable names under a node, in source order, once each."""
    found: dict[str, None] = {}
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            found.setdefault(current.id, None)
        elif isinstance(current, ast.Call):  # the function's name is no variable
            stack.extend(reversed(current.args))
        else:
            stack.extend(reversed(list(ast.iter_child_nodes(current))))
    return tuple(found)
