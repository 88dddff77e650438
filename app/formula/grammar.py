"""Grammar check of formulas: an allow-list over Python's ast, node by node."""

from __future__ import annotations

import ast
import difflib
import functools
import re
import unicodedata
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from app.formula.errors import FormulaError

MAX_LENGTH: Final = 500
"""Longest formula accepted, in characters; checked before the parser sees the text."""

MAX_NODES: Final = 200
"""Most ast nodes (numbers, names, operations, calls) in one formula."""

MAX_DEPTH: Final = 32
"""Deepest nesting of ast nodes; the whole formula is depth 1."""

MAX_LITERAL: Final = 1e15
"""Largest absolute value of a number written in a formula."""

MAX_EXPONENT: Final = 10
"""Largest absolute value of the whole-number exponent of `**`."""

FUNCTIONS: Final[Mapping[str, tuple[int, int | None]]] = MappingProxyType(
    {
        "abs": (1, 1),
        "max": (2, None),
        "min": (2, None),
        "round": (1, 2),
    }
)
"""Functions a formula may call: name -> (fewest, most) positional arguments, None = no limit.

Extend deliberately, together with their implementations in `app.formula.engine`.
"""

_CACHE_SIZE: Final = 4096

_BINARY_OPERATORS: Final[Mapping[type[ast.operator], str]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_UNARY_OPERATORS: Final = (ast.UAdd, ast.USub, ast.Not)
_BOOLEAN_OPERATORS: Final = (ast.And, ast.Or)
_COMPARISONS: Final = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

_ALLOWED_NODES: Final = frozenset(
    {ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Constant}
)

_REFUSED_OPERATORS: Final[Mapping[type[ast.AST], str]] = {
    ast.BitXor: "Operator '^' is not allowed; for a power write '**', e.g. x ** 2",
    ast.BitAnd: "Operator '&' is not allowed; use 'and'",
    ast.BitOr: "Operator '|' is not allowed; use 'or'",
    ast.LShift: "Operator '<<' is not allowed",
    ast.RShift: "Operator '>>' is not allowed",
    ast.MatMult: "Operator '@' is not allowed",
    ast.Invert: "Operator '~' is not allowed; use 'not'",
    ast.In: "Operator 'in' is not allowed",
    ast.NotIn: "Operator 'not in' is not allowed",
    ast.Is: "Operator 'is' is not allowed; use '=='",
    ast.IsNot: "Operator 'is not' is not allowed; use '!='",
}

_COMPREHENSION: Final = "Comprehensions ('for' inside brackets) are not allowed"
_REFUSED_NODES: Final[Mapping[type[ast.AST], str]] = {
    ast.Attribute: "Attribute access (the '.' in x.y) is not allowed",
    ast.Subscript: "Indexing (x[...]) is not allowed",
    ast.Slice: "Indexing (x[...]) is not allowed",
    ast.JoinedStr: "Text (f-strings) is not allowed; a formula works only with numbers",
    ast.FormattedValue: "Text (f-strings) is not allowed; a formula works only with numbers",
    ast.Lambda: "Lambda functions are not allowed",
    ast.ListComp: _COMPREHENSION,
    ast.SetComp: _COMPREHENSION,
    ast.DictComp: _COMPREHENSION,
    ast.GeneratorExp: _COMPREHENSION,
    ast.NamedExpr: "The ':=' operator is not allowed",
    ast.Starred: "Unpacking with '*' is not allowed",
    ast.Tuple: (
        "A comma is only allowed between a function's values, e.g. min(a, b); "
        "write decimals with a point, e.g. 0.5"
    ),
    ast.List: "Lists ([...]) are not allowed",
    ast.Set: "Sets ({...}) are not allowed",
    ast.Dict: "Dictionaries ({...}) are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

_STATEMENT_KEYWORDS: Final[Mapping[type[ast.stmt], str]] = {
    ast.Raise: "raise",
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "async def",
    ast.ClassDef: "class",
    ast.Return: "return",
    ast.Delete: "del",
    ast.Import: "import",
    ast.ImportFrom: "from ... import",
    ast.Assert: "assert",
    ast.If: "if",
    ast.For: "for",
    ast.AsyncFor: "async for",
    ast.While: "while",
    ast.With: "with",
    ast.AsyncWith: "async with",
    ast.Try: "try",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Pass: "pass",
    ast.Break: "break",
    ast.Continue: "continue",
}

_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_PUNCTUATION: Final = " \t\f\r\n()"

_Positioned = ast.expr | ast.keyword | ast.stmt


@dataclass(frozen=True)
class CheckedFormula:
    """A formula that passed the grammar check, with the names it uses."""

    expression: str
    variables: tuple[str, ...]
    functions: tuple[str, ...]
    variable_offsets: tuple[int, ...] = field(repr=False, compare=False)
    tree: ast.Expression = field(repr=False, compare=False)


def parse(expression: str) -> CheckedFormula:
    """Check a formula's grammar, once per distinct text; raise FormulaError if refused."""
    if not isinstance(expression, str):
        raise FormulaError("syntax_error", "The formula must be text")
    if len(expression) > MAX_LENGTH:
        raise FormulaError(
            "too_long",
            f"The formula is {len(expression)} characters long; the limit is {MAX_LENGTH}",
            MAX_LENGTH,
        )
    return _parse(expression)


def validate(expression: str, known_variables: Collection[str]) -> CheckedFormula:
    """Check a formula's grammar and that every variable it uses is known."""
    checked = parse(expression)
    for name, offset in zip(checked.variables, checked.variable_offsets, strict=True):
        if name not in known_variables:
            message = f"Unknown variable '{name}'"
            close = difflib.get_close_matches(name, [str(known) for known in known_variables], 1)
            if close:
                message += f"; did you mean '{close[0]}'?"
            raise FormulaError("unknown_variable", message, offset, name)
    return checked


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(expression: str) -> CheckedFormula:
    """Parse and check a formula no longer than MAX_LENGTH."""
    text = expression.lstrip()
    if not text.strip():
        raise FormulaError("empty", "The formula is empty")
    # Leading blanks are an IndentationError in eval mode; offsets stay relative to the input.
    source = _Source(text, len(expression) - len(text))
    if "\0" in text:
        raise FormulaError(
            "syntax_error",
            "The formula contains a character that is not allowed",
            expression.index("\0"),
        )
    _refuse_non_ascii(expression)
    try:
        tree = _ast(text, "eval")
    except (SyntaxError, ValueError) as exc:
        raise _refuse_unparsable(source, exc) from None
    except (RecursionError, MemoryError):
        raise FormulaError("too_complex", "The formula is nested too deeply") from None
    variables, offsets, functions = _check(tree, source)
    return CheckedFormula(expression, variables, functions, offsets, tree)


def _refuse_non_ascii(expression: str) -> None:
    """Refuse any character outside ASCII. Python folds compatibility characters to ASCII
    (NFKC) when it reads names, so `ｚｚ_var`, `ᵖsks` or the ligature in `proﬁl` would be read
    as another name than the one stored: what is stored must be what is evaluated."""
    for offset, char in enumerate(expression):
        if not char.isascii():
            folded = unicodedata.normalize("NFKC", char)
            hint = (
                f"; write '{folded}' instead (text copied from a PDF often carries such characters)"
                if folded.isascii() and folded.strip()
                else ""
            )
            raise FormulaError(
                "not_ascii",
                f"The character '{char}' (U+{ord(char):04X}) is not allowed: formulas are "
                f"written in ASCII letters, digits and operators{hint}",
                offset,
            )


class _Source:
    """Turns ast positions (1-based line, UTF-8 byte column) into character offsets."""

    def __init__(self, text: str, shift: int) -> None:
        self.text = text
        self.shift = shift
        self.starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def _line(self, lineno: int) -> tuple[int, str]:
        index = min(max(lineno, 1), len(self.starts)) - 1
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
        return start, self.text[start:end]

    def at_column(self, lineno: int, byte_column: int) -> int:
        """Offset in the input of a byte column of a line."""
        start, line = self._line(lineno)
        if not line.isascii():
            byte_column = len(line.encode()[:byte_column].decode("utf-8", "ignore"))
        return self.shift + start + byte_column

    def at_character(self, lineno: int, character: int) -> int:
        """Offset in the input of a character column of a line."""
        start, line = self._line(lineno)
        return self.shift + start + min(max(character, 0), len(line))

    def start(self, node: _Positioned) -> int:
        return self.at_column(node.lineno, node.col_offset)

    def end(self, node: _Positioned) -> int:
        return self.at_column(node.end_lineno or node.lineno, node.end_col_offset or 0)

    def segment(self, node: _Positioned) -> str:
        return self.text[self.start(node) - self.shift : self.end(node) - self.shift]

    def operator_between(self, left: ast.expr, right: ast.expr) -> int:
        """Offset of the operator written between two operands."""
        first, last = self.end(left) - self.shift, self.start(right) - self.shift
        for index in range(first, last):
            if self.text[index] not in _PUNCTUATION:
                return self.shift + index
        return self.shift + first


def _refuse_unparsable(source: _Source, exc: SyntaxError | ValueError) -> FormulaError:
    """Explain why the text is not one Python expression."""
    statement = _first_statement(source.text)
    if statement is not None:
        if isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign):
            message = "Assignment is not allowed: write only the expression (compare with '==')"
        elif isinstance(statement, ast.Expr):
            message = "A formula must be a single expression; remove the ';' or the extra line"
        else:
            keyword = _STATEMENT_KEYWORDS.get(type(statement), type(statement).__name__)
            message = f"Statements such as '{keyword}' are not allowed: write one expression"
        return FormulaError("not_allowed", message, source.start(statement))
    if not isinstance(exc, SyntaxError):
        return FormulaError("syntax_error", f"The formula is not valid: {exc}")
    if exc.lineno is None or not exc.offset:
        # Python reports no column when the text ends too early, as in "a +".
        offset = source.shift + len(source.text.rstrip())
    else:
        offset = source.at_character(exc.lineno, exc.offset - 1)
    if "too many nested" in (exc.msg or ""):
        return FormulaError("too_complex", "The formula has too many nested parentheses", offset)
    if exc.msg == "invalid syntax":
        message = "The formula is not valid here: a value, an operator or a parenthesis is missing"
        return FormulaError("syntax_error", message, offset)
    return FormulaError("syntax_error", f"The formula is not valid: {exc.msg}", offset)


def _ast(text: str, mode: str) -> Any:
    """`ast.parse`, silent: input such as `1_a` makes Python warn on stderr (a
    SyntaxWarning) before refusing it, and refused input is ours to report, not to log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(text, mode=mode)


def _first_statement(text: str) -> ast.stmt | None:
    """The first part that makes the text a program rather than an expression, if it is one."""
    try:
        module = _ast(text, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for statement in module.body:
        if not isinstance(statement, ast.Expr):
            return statement
    return module.body[1] if len(module.body) > 1 else None


def _check(
    tree: ast.Expression, source: _Source
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """Walk the tree in source order; answer variables, their first offsets and functions."""
    variables: dict[str, int] = {}
    functions: dict[str, None] = {}
    count = 0
    stack: list[tuple[ast.expr, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(
                "too_complex",
                f"The formula is too complex: it has more than {MAX_NODES} parts",
                source.start(node),
            )
        if depth > MAX_DEPTH:
            raise FormulaError(
                "too_complex",
                f"The formula is nested too deeply: more than {MAX_DEPTH} levels",
                source.start(node),
            )
        children = _check_node(node, source, variables, functions)
        stack.extend((child, depth + 1) for child in reversed(children))
    return tuple(variables), tuple(variables.values()), tuple(functions)


def _check_node(
    node: ast.expr,
    source: _Source,
    variables: dict[str, int],
    functions: dict[str, None],
) -> Sequence[ast.expr]:
    """Check one node against the allow-list; answer its children in source order."""
    match node:
        case ast.BinOp(left=left, op=operator, right=right):
            if type(operator) not in _BINARY_OPERATORS:
                raise _refuse_operator(operator, source.operator_between(left, right))
            if type(operator) is ast.Pow and not _is_small_exponent(right):
                raise FormulaError(
                    "exponent_not_allowed",
                    f"The exponent of '**' must be a whole number from -{MAX_EXPONENT} "
                    f"to {MAX_EXPONENT}, e.g. x ** 2",
                    source.start(right),
                )
            return (left, right)
        case ast.UnaryOp(op=operator, operand=operand):
            if not isinstance(operator, _UNARY_OPERATORS):
                raise _refuse_operator(operator, source.start(node))
            return (operand,)
        case ast.BoolOp(op=operator, values=values):
            if not isinstance(operator, _BOOLEAN_OPERATORS):
                raise _refuse_operator(operator, source.start(node))
            return values
        case ast.Compare(left=left, ops=operators, comparators=comparators):
            for comparison, right in zip(operators, comparators, strict=True):
                if not isinstance(comparison, _COMPARISONS):
                    raise _refuse_operator(comparison, source.operator_between(left, right))
                left = right
            return (node.left, *comparators)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return (body, test, orelse)
        case ast.Call():
            return _check_call(node, source, functions)
        case ast.Name():
            _check_variable(node, source, variables)
            return ()
        case ast.Constant():
            _check_number(node, source)
            return ()
    raise _refuse_node(node, source)


def _refuse_node(node: ast.expr, source: _Source, name: str | None = None) -> FormulaError:
    kind = type(node)
    message = _REFUSED_NODES.get(kind, f"This part of the formula is not allowed ({kind.__name__})")
    return FormulaError("not_allowed", message, source.start(node), name)


def _check_call(node: ast.Call, source: _Source, functions: dict[str, None]) -> Sequence[ast.expr]:
    """Only whitelisted functions, called by name with positional values."""
    allowed = ", ".join(sorted(FUNCTIONS))
    if type(node.func) is not ast.Name:
        raise FormulaError(
            "not_allowed",
            f"Only these functions can be called, by name: {allowed}",
            source.start(node.func),
        )
    name = node.func.id
    offset = source.start(node.func)
    if name.startswith("_"):
        raise FormulaError(
            "not_allowed", f"Names starting with '_' are not allowed: '{name}'", offset, name
        )
    if name not in FUNCTIONS:
        raise FormulaError(
            "unknown_function",
            f"Unknown function '{name}'; the functions are: {allowed}",
            offset,
            name,
        )
    if node.keywords:
        keyword = node.keywords[0]
        message = (
            f"Keyword arguments such as '{keyword.arg}=' are not allowed: "
            f"give {name}() only values, separated by commas"
            if keyword.arg is not None
            else "Unpacking with '**' is not allowed"
        )
        raise FormulaError("not_allowed", message, source.start(keyword), name)
    for argument in node.args:
        # A refused argument such as a generator says more than a wrong count of values.
        if type(argument) not in _ALLOWED_NODES:
            raise _refuse_node(argument, source, name)
    fewest, most = FUNCTIONS[name]
    count = len(node.args)
    if count < fewest or (most is not None and count > most):
        raise FormulaError("syntax_error", _arity_message(name, fewest, most), offset, name)
    functions.setdefault(name, None)
    return node.args


def _arity_message(name: str, fewest: int, most: int | None) -> str:
    if most is None:
        return f"{name}() needs at least {fewest} values, e.g. {name}(a, b)"
    if fewest == most:
        return f"{name}() takes exactly {fewest} value, e.g. {name}(a - b)"
    return f"{name}() takes {fewest} to {most} values, e.g. {name}(a) or {name}(a, 2)"


def _check_variable(node: ast.Name, source: _Source, variables: dict[str, int]) -> None:
    name = node.id
    offset = source.start(node)
    if type(node.ctx) is not ast.Load:
        raise FormulaError("not_allowed", "Assignment is not allowed", offset, name)
    if name.startswith("_"):
        raise FormulaError(
            "not_allowed", f"Names starting with '_' are not allowed: '{name}'", offset, name
        )
    if not name.isascii():
        raise FormulaError(
            "not_allowed",
            f"Variable names may only use letters a-z, digits and '_': '{name}'",
            offset,
            name,
        )
    if name in FUNCTIONS:
        raise FormulaError(
            "not_allowed",
            f"'{name}' is a function, not a variable: call it with values, e.g. {name}(a, b)",
            offset,
            name,
        )
    variables.setdefault(name, offset)


def _check_number(node: ast.Constant, source: _Source) -> None:
    """Accept int and float literals up to MAX_LITERAL; turn ints into floats."""
    value = node.value
    if isinstance(value, bool):
        message = f"{value} is not allowed; write 1 or 0"
    elif isinstance(value, int | float):
        if not abs(value) <= MAX_LITERAL:
            raise FormulaError(
                "literal_too_large",
                f"The number {source.segment(node)} is too large; the limit is 1e15",
                source.start(node),
            )
        # Float arithmetic only: no unbounded big-integer work at evaluation time.
        node.value = float(value)
        return
    elif isinstance(value, str):
        message = "Text in quotes is not allowed; a formula works only with numbers"
    elif isinstance(value, bytes):
        message = "Bytes are not allowed; a formula works only with numbers"
    elif value is None:
        message = "None is not allowed; a formula works only with numbers"
    elif isinstance(value, complex):
        message = "Complex numbers (such as 2j) are not allowed"
    else:
        message = f"The value {source.segment(node)} is not allowed"
    raise FormulaError("not_allowed", message, source.start(node))


def _is_small_exponent(node: ast.expr) -> bool:
    """Is the node a whole-number literal from -MAX_EXPONENT to MAX_EXPONENT?"""
    if type(node) is ast.UnaryOp and type(node.op) is ast.USub:
        node = node.operand
    return (
        type(node) is ast.Constant and type(node.value) is int and abs(node.value) <= MAX_EXPONENT
    )


def _refuse_operator(operator: ast.AST, offset: int) -> FormulaError:
    message = _REFUSED_OPERATORS.get(
        type(operator), f"Operator {type(operator).__name__} is not allowed"
    )
    return FormulaError("not_allowed", message, offset)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def names_in(formula: str) -> set[str]:
    """The variable names a stored formula uses, as it is read; a formula that no longer
    parses (e.g. one stored before non-ASCII names were refused) still holds on to every
    name it mentions, as Python would read them."""
    try:
        return set(parse(formula).variables)
    except FormulaError:
        return set(_NAME.findall(unicodedata.normalize("NFKC", formula)))
