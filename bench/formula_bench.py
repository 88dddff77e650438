"""Per-evaluation cost of app.formula.evaluate against asteval's own floor.

Run from the repository root: python bench/formula_bench.py
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asteval import Interpreter

from app.formula import evaluate, parse

MAX_RATIO = 1.3
"""Largest accepted engine/floor ratio: the engine's own overhead over asteval."""

REPEATS = 30
ATTEMPTS = 3  # a shared machine's noise can spoil one attempt; a real regression spoils all
TARGET_NS = 15_000_000  # about 15 ms per measurement: short, so that some run undisturbed

FORMULAS: Mapping[str, tuple[str, Mapping[str, float | int]]] = {
    "short": ("a / b * 100", {"a": 37, "b": 120}),
    "long": (
        "max(0, min(100, (a + b + c) / max(d, 1) * 100 - e)) if f > g and not h < 0 "
        "else abs(h - i) * 100 / (j + 1)",
        {"a": 12, "b": 7.5, "c": 3, "d": 40, "e": 2.5, "f": 9, "g": 4, "h": 1, "i": 6, "j": 10},
    ),
}


def per_call_ns(function: Callable[..., Any], arguments: tuple[Any, ...], count: int) -> float:
    """Average wall time of one call over `count` calls."""
    start = time.perf_counter_ns()
    for _ in range(count):
        function(*arguments)
    return (time.perf_counter_ns() - start) / count


def calibrate(function: Callable[..., Any], arguments: tuple[Any, ...]) -> int:
    """A call count that takes about TARGET_NS."""
    count = 100
    while True:
        elapsed = per_call_ns(function, arguments, count) * count
        if elapsed > TARGET_NS / 10:
            return max(count, int(count * TARGET_NS / elapsed))
        count *= 4


def measure(expression: str, values: Mapping[str, float | int]) -> dict[str, float]:
    """Best-of-REPEATS ns per evaluation for each way of evaluating the expression."""
    checked = parse(expression)
    floats = {name: float(value) for name, value in values.items()}
    if evaluate(checked, values).status != "ok":
        raise SystemExit(f"benchmark formula is not ok: {expression}")

    # asteval's floor: the very node our engine runs, variables already in the symbol table.
    floor = Interpreter(use_numpy=False, minimal=True, config={"ifexp": True})
    floor.symtable.update(floats)
    if floor.run(checked.tree.body) != evaluate(checked, values).value:
        raise SystemExit(f"asteval and the engine disagree on {expression}")
    module = floor.parse(expression)
    reparsing = Interpreter(use_numpy=False, minimal=True, config={"ifexp": True})
    reparsing.symtable.update(floats)

    cases: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        "engine": (evaluate, (checked, values)),
        "floor": (floor.run, (checked.tree.body,)),
        "run_module": (floor.run, (module,)),
        "eval_string": (reparsing.eval, (expression,)),
    }
    counts = {name: calibrate(*case) for name, case in cases.items()}
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(REPEATS):
        # Interleaved so that a noisy neighbour slows every case alike.
        for name, (function, arguments) in cases.items():
            gc.collect()
            best[name] = min(best[name], per_call_ns(function, arguments, counts[name]))
        reparsing.code_text.clear()  # asteval's eval() appends every text it runs
    return best


def main() -> int:
    print(f"python {sys.version.split()[0]}, best of {REPEATS}, ns per evaluation")
    print(
        f"{'formula':<8}{'engine':>10}{'floor':>10}{'run(mod)':>10}{'eval(str)':>11}"
        f"{'engine/floor':>14}{'eval/engine':>13}"
    )
    failures = []
    for label, (expression, values) in FORMULAS.items():
        for attempt in range(1, ATTEMPTS + 1):
            best = measure(expression, values)
            ratio = best["engine"] / best["floor"]
            print(
                f"{label:<8}{best['engine']:>10.0f}{best['floor']:>10.0f}"
                f"{best['run_module']:>10.0f}{best['eval_string']:>11.0f}{ratio:>14.2f}"
                f"{best['eval_string'] / best['engine']:>13.1f}"
            )
            if ratio <= MAX_RATIO:
                break
            print(f"  attempt {attempt}: engine/floor {ratio:.2f} exceeds {MAX_RATIO}")
        else:
            failures.append(f"{label}: engine/floor {ratio:.2f} exceeds {MAX_RATIO}")
    print("floor = asteval Interpreter.run() on the same pre-parsed node, variables preset;")
    print("run(mod) = run() on asteval's own parse of the text; eval(str) = parse + run each time")
    for failure in failures:
        print(f"FAIL {failure} in {ATTEMPTS} attempts", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
