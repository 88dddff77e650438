"""Joins that SQLite reads as they are written, whatever statistics the database holds.

SQLite's planner chooses the order in which it reads the tables of a join, and how it reads
each, from what it believes of their sizes. Without statistics (the service never runs
`ANALYZE` on SQLite) it believes every table large and follows the indexes, which suits the
service. With statistics it believes them, also when they are stale. Statistics taken when a
city had one agency say that `agency` and `decree` hold one row and that every indicator has
the same decree: once the city has grown, SQLite scans tables inside loops where it should
look rows up, and a pull of 100 agencies takes 18 times as long. And a connection keeps the
statistics it loaded until the schema changes: a server keeps old ones after a new `ANALYZE`
(see bench/RESULTS.md).

`in_order` writes a join with SQLite's own means of fixing a plan: `CROSS JOIN`, which it
always reads left table first, and `INDEXED BY`, which makes it read a table through the
index named or fail to prepare the statement. A join so written reads a table once, first,
then each table after it by a lookup per row before it: through the index named for it, or
by its primary key. SQLite takes a primary-key lookup unless it believes the table holds a
row or so, so a table of one row per agency (`agency`, `decree`) comes first or is reached
through an index, never by its key. PostgreSQL gets the plain `JOIN` it always got: it plans
joins freely and the service keeps its statistics fresh.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import ColumnElement, Join
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import _de_clone
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class _InOrder(Join):
    """An inner join whose left side SQLite reads first, and its right side through the index
    named `indexed_by` (if any)."""

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012  (as in `Join`)
        *Join._traverse_internals,
        ("indexed_by", InternalTraversal.dp_string),
    ]

    def __init__(
        self, left: Any, right: Any, onclause: ColumnElement[bool], indexed_by: str | None
    ) -> None:
        super().__init__(left, right, onclause)
        self.indexed_by = indexed_by


@compiles(_InOrder)
def _plain(join: _InOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.visit_join(join, **kw)


@compiles(_InOrder, "sqlite")
def _cross(join: _InOrder, compiler: SQLCompiler, **kw: Any) -> str:
    # `SQLCompiler.visit_join`, with `CROSS JOIN` (which takes an ON clause in SQLite).
    kw.pop("asfrom", None)
    from_linter = kw.pop("from_linter", None)
    if from_linter:
        from_linter.edges.update(
            itertools.product(
                _de_clone(join.left._from_objects), _de_clone(join.right._from_objects)
            )
        )
    left = join.left._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    right = join.right._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    if join.indexed_by:
        right += f" INDEXED BY {compiler.preparer.quote(join.indexed_by)}"
    assert join.onclause is not None  # `in_order` always gives one
    onclause = join.onclause._compiler_dispatch(compiler, from_linter=from_linter, **kw)
    return f"{left} CROSS JOIN {right} ON {onclause}"


def in_order(first: Any, *joins: tuple[Any, ...]) -> Join:
    """`first` inner-joined to each (table, ON clause[, index]) in turn, read in this order on
    SQLite (see the module). Each ON clause compares the table's primary key, or the leading
    column of the index named, with a column of a table before it."""
    joined: Any = first
    for table, onclause, *index in joins:
        joined = _InOrder(joined, table, onclause, index[0] if index else None)
    return joined
