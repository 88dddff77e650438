"""Input limits that fit their fields, and no control characters in definitions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:00:00

The schema does not change: the limits are the application's, checked before a database
sees a text (so that SQLite and PostgreSQL answer alike). But a definition stored before
this version may break them (an indicator name of 20,000 characters, a unit name holding
U+001F), and the service validates definitions when it reads them back: such a row would
make every answer naming it fail. So the upgrade checks every stored definition against the
rules below (the rules as of this revision) and refuses, naming each row and field at fault,
rather than leave rows the service cannot serve. Fix them (through the API of the version
still running, or in SQL), then migrate again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.core.text import control_characters

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (longest allowed, may run over several lines) of each text column, per table.
TEXTS: dict[str, dict[str, tuple[int, bool]]] = {
    "agency": {
        "name": (255, False),
        "address": (500, True),
        "phone": (100, False),
        "email": (255, False),
        "website": (255, False),
    },
    "unit": {"name": (255, False)},
    "position": {"title": (255, False), "echelon": (16, False)},
    "decree": {
        "number": (100, False),
        "title": (500, False),
        "heading": (1000, False),
        "place": (100, False),
        "signatory": (255, False),
        "signatory_title": (255, False),
        "signatory_rank": (100, False),
        "signatory_nip": (50, False),
    },
    "objective": {"statement": (600, False)},
    "indicator": {
        "name": (600, False),
        "unit_of_measure": (50, False),
        "formula": (500, True),
        "explanation": (1000, True),
        "data_source": (1000, True),
        "notes": (2000, True),
    },
    "variable": {
        "label": (500, False),
        "unit_of_measure": (50, False),
        "description": (1000, True),
    },
    "rating_scale": {"name": (255, False)},
}
# JSON columns holding lists of texts: (most items, longest item, may run over lines).
LISTS: dict[str, dict[str, tuple[int, int, bool]]] = {
    "position": {
        "duties": (50, 1000, False),
        "functions": (50, 1000, False),
        "activities": (50, 1000, False),
    },
    "decree": {"considerations": (50, 1500, True), "legal_bases": (100, 1500, True)},
}
# JSON columns holding lists of objects: the rule of each text member.
OBJECTS: dict[str, dict[str, dict[str, tuple[int, bool]]]] = {
    "decree": {"clauses": {"label": (32, False), "text": (1500, True)}},
    "rating_scale": {"bands": {"label": (100, False)}},
}
CLAUSE_ITEMS = (1500, True)  # each of a clause's `items`
SHOWN = 20  # rows named in the refusal


def _problem(text: Any, rule: tuple[int, bool]) -> str | None:
    """What is wrong with a stored text under `rule`, or None."""
    if not isinstance(text, str):
        return None
    longest, multiline = rule
    if len(text) > longest:
        return f"{len(text)} characters, at most {longest}"
    found = control_characters(text, multiline=multiline)
    if found:
        return f"holds control characters ({', '.join(found[:5])})"
    return None


def _json(value: Any) -> Any:
    # SQLite hands JSON back as text; PostgreSQL's driver decodes it.
    return json.loads(value) if isinstance(value, str) else value


def _broken(bind: sa.Connection) -> Iterator[str]:
    """Every stored text that breaks its rule, as `table id field: problem`."""
    tables = set(TEXTS) | set(LISTS) | set(OBJECTS)
    for table in sorted(tables):
        texts, lists, objects = TEXTS.get(table, {}), LISTS.get(table, {}), OBJECTS.get(table, {})
        columns = [*texts, *lists, *objects]
        rows = bind.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table} ORDER BY id"))
        for row in rows.mappings():
            where = f"{table} {row['id']}"
            for column, rule in texts.items():
                if problem := _problem(row[column], rule):
                    yield f"{where} {column}: {problem}"
            for column, (most, longest, multiline) in lists.items():
                items = _json(row[column]) or []
                if len(items) > most:
                    yield f"{where} {column}: {len(items)} items, at most {most}"
                for index, item in enumerate(items):
                    if problem := _problem(item, (longest, multiline)):
                        yield f"{where} {column}[{index}]: {problem}"
            for column, members in objects.items():
                for index, entry in enumerate(_json(row[column]) or []):
                    if not isinstance(entry, dict):
                        continue
                    for member, rule in members.items():
                        if problem := _problem(entry.get(member), rule):
                            yield f"{where} {column}[{index}].{member}: {problem}"
                    if column == "clauses":
                        for number, item in enumerate(entry.get("items") or []):
                            if problem := _problem(item, CLAUSE_ITEMS):
                                yield f"{where} {column}[{index}].items[{number}]: {problem}"


def upgrade() -> None:
    broken = list(_broken(op.get_bind()))
    if broken:
        more = f"; and {len(broken) - SHOWN} more" if len(broken) > SHOWN else ""
        raise RuntimeError(
            f"{len(broken)} stored text(s) break the input rules of this version (too long "
            "for their field, or holding control characters) and could not be served: "
            f"{'; '.join(broken[:SHOWN])}{more}. Correct them (through the API of the version "
            "still running, or in SQL), then migrate again."
        )


def downgrade() -> None:
    pass  # nothing was changed
