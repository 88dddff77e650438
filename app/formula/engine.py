"""Evaluation of checked formulas with a minimal asteval interpreter, one per thread."""

from __future__ import annotations

import decimal
import numbers
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Any, Final, Literal

from asteval import Interpreter

from app.formula.grammar import FUNCTIONS, MAX_LENGTH, CheckedFormula

EvaluationStatus = Literal["ok", "undefined"]
Reason = Literal[
    "division_by_zero", "overflow", "not_finite", "domain_error", "missing_value", "error"
]


@dataclass(frozen=True)
class Evaluation:
    """A formula's value, or why it is undefined for the given values."""

    value: float | None
    status: EvaluationStatus = "ok"
    reason: Reason | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if (self.status == "ok") != (self.value is not None):
            raise ValueError("an ok evaluation has a value, an undefined one has none")

    @classmethod
    def ok(cls, value: float) -> Evaluation:
        """A value."""
        return cls(value)

    @classmethod
    def undefined(cls, reason: Reason, detail: str) -> Evaluation:
        """No value, with the reason and a message for people."""
        return cls(None, "undefined", reason, detail)


_DECIMALS: Final = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP)
_MAX_PLACES: Final = 400  # beyond a float's 17 significant digits and 1e±308 range


def _round(number: float, places: float | None = None) -> float:
    """Round half away from zero on the number as written (2.675 -> 2.68, 2.5 -> 3)."""
    # Python's round() rounds half to even on the binary value (2.5 -> 2, 2.675 -> 2.67),
    # which surprises anyone checking a report by hand.
    whole = 0 if places is None else int(places)
    if whole != (places or 0):
        raise ValueError("round() needs a whole number of decimal places")
    number = float(number)  # a comparison's bool, too
    if not isfinite(number):
        return number
    whole = max(-_MAX_PLACES, min(whole, _MAX_PLACES))
    exact = decimal.Decimal(repr(number))
    return float(exact.quantize(decimal.Decimal(1).scaleb(-whole), context=_DECIMALS))


_IMPLEMENTATIONS: Final[dict[str, Callable[..., Any]]] = {
    "abs": abs,
    "max": max,
    "min": min,
    "round": _round,
}
if set(_IMPLEMENTATIONS) != set(FUNCTIONS):
    raise RuntimeError("every function in grammar.FUNCTIONS needs an implementation here")

_DIVISION_BY_ZERO: Final = Evaluation.undefined(
    "division_by_zero", "Division by zero: a denominator is 0 for these values"
)
_OVERFLOW: Final = Evaluation.undefined("overflow", "The result is too large to compute")
_NOT_FINITE: Final = Evaluation.undefined("not_finite", "The result is not a finite number")
_DOMAIN_ERROR: Final = Evaluation.undefined(
    "domain_error", "A value is outside what a function or operator accepts"
)
_FAILED: Final = Evaluation.undefined("error", "The formula could not be evaluated")


def _new_interpreter() -> Interpreter:
    """A minimal asteval interpreter: no numpy, no imports, only the whitelisted functions."""
    interpreter = Interpreter(
        symtable=dict(_IMPLEMENTATIONS),
        use_numpy=False,
        minimal=True,
        config={"ifexp": True},
        builtins_readonly=True,
        max_statement_length=MAX_LENGTH,
    )
    interpreter.symtable.pop("print", None)
    # asteval re-raises an error from run() only while expr is set; otherwise run() answers None.
    interpreter.expr = "formula"
    return interpreter


class _PerThread(threading.local):
    """asteval keeps its error list and symbol table on the instance: one per thread."""

    def __init__(self) -> None:
        self.interpreter = _new_interpreter()


_per_thread: Final = _PerThread()
_new_object: Final = object.__new__


def evaluate(checked: CheckedFormula, values: Mapping[str, float | int | None]) -> Evaluation:
    """The formula's value for these variable values; never raises, never NaN or infinity."""
    # Hot path, kept lean (see bench/): a fresh symbol table per call holding only this
    # formula's variables and, if it calls any, the whitelisted functions.
    symbols: dict[str, Any] = {}
    try:
        for name in checked.variables:
            number = values[name] + 0.0  # type: ignore[operator]  # None is caught below
            # number - number is NaN (true) for an infinity or NaN, 0.0 (false) otherwise.
            if type(number) is not float or number - number:
                raise ValueError(name)
            symbols[name] = number
    except Exception:
        read = _read_slowly(checked, values)
        if isinstance(read, Evaluation):
            return read
        symbols = read
    if checked.functions:
        symbols.update(_IMPLEMENTATIONS)
    interpreter = _per_thread.interpreter
    interpreter.symtable = symbols
    try:
        result = interpreter.run(checked.tree.body)
    except Exception as exc:
        _reset(interpreter)
        return _undefined_for(exc)
    except BaseException:
        _reset(interpreter)
        raise
    if type(result) is not float or result - result:
        return _unusual(result)
    # Skips the frozen dataclass __init__, which costs about as much as all of the rest of
    # this function; status, reason and detail keep their class defaults "ok", None, None.
    evaluation: Evaluation = _new_object(Evaluation)
    evaluation.__dict__["value"] = result + 0.0  # -0.0 -> 0.0
    return evaluation


def _read_slowly(checked: CheckedFormula, values: Mapping[str, Any]) -> dict[str, Any] | Evaluation:
    """Values that are not plain ints and floats: convert them, or explain what is wrong."""
    missing = [name for name in checked.variables if _get(values, name) is None]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        return Evaluation.undefined("missing_value", f"No value for {names}")
    symbols: dict[str, Any] = {}
    for name in checked.variables:
        value = values[name]
        if not isinstance(value, numbers.Real | decimal.Decimal):  # NUMERIC columns: Decimal
            return Evaluation.undefined("error", f"The value of '{name}' is not a number")
        try:
            number = float(value)
        except OverflowError:
            return Evaluation.undefined("not_finite", f"The value of '{name}' is too large")
        if not isfinite(number):
            return Evaluation.undefined(
                "not_finite", f"The value of '{name}' is not a finite number"
            )
        symbols[name] = number
    return symbols


def _get(values: Mapping[str, Any], name: str) -> Any:
    try:
        return values.get(name)
    except Exception:
        return None


def _reset(interpreter: Interpreter) -> None:
    # asteval skips run() entirely while an earlier error is still recorded.
    interpreter.error = []
    interpreter.error_msg = None


def _undefined_for(exc: Exception) -> Evaluation:
    if isinstance(exc, ZeroDivisionError):
        return _DIVISION_BY_ZERO
    if isinstance(exc, OverflowError):
        return _OVERFLOW
    if isinstance(exc, ValueError):
        return _DOMAIN_ERROR
    return _FAILED


def _unusual(result: object) -> Evaluation:
    """Map a result that is not a finite float: a comparison's bool, or a non-finite number."""
    if isinstance(result, bool):
        return Evaluation(1.0 if result else 0.0)
    if isinstance(result, int | float):
        try:
            number = float(result)
        except OverflowError:
            return _OVERFLOW
        return Evaluation(number + 0.0) if isfinite(number) else _NOT_FINITE
    return _FAILED
