"""Figures remembered by the revision of their agency's data: every flush that changes a row
an agency's figures are computed from revises that agency (and only it), whatever the write
path; a remembered figure is served until then, and never after."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from app.core.db import utcnow
from app.models import (
    Agency,
    AuditEvent,
    DataValue,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Period,
    PeriodState,
    Position,
    QualityRule,
    RatingScale,
    Role,
    Target,
    Unit,
    Variable,
)
from app.quality import Operator
from app.services import achievements, quality, revisions
from app.services.keys import create_key
from app.services.revisions import AGENCY_COLUMN, EVERY_AGENCY, THROUGH, UNRELATED, Memo
from tests.api.helpers import indicator_id

YEAR = 2025


def revision_of(session: Session, agency_id: int) -> int | None:
    """As stored (the ORM's objects keep the revision they were loaded with)."""
    return session.exec(select(Agency.data_revision).where(Agency.id == agency_id)).first()


def one(session: Session, model: type[SQLModel], *where: object) -> SQLModel:
    return session.exec(select(model).where(*where)).first()  # type: ignore[arg-type]


@pytest.fixture
def agencies(session: Session) -> tuple[int, int]:
    """The seeded agency, with a value stored (the seed has none), and a second agency with
    nothing in it."""
    seeded = session.exec(select(Agency).order_by(Agency.id)).first()
    variable = one(session, Variable, Variable.code == "psks_terdata")
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=1, value=200.0))  # type: ignore[attr-defined]
    other = Agency(code="DINAS_LAIN", name="Dinas Lain")
    session.add(other)
    session.flush()
    assert seeded is not None and seeded.id and other.id
    return seeded.id, other.id


def test_every_table_is_placed() -> None:
    """A table in none of the sets would revise every agency at each change: safe, but a
    new table should be placed where it belongs."""
    placed = [set(AGENCY_COLUMN), set(THROUGH), set(EVERY_AGENCY), set(UNRELATED)]
    assert sum(len(p) for p in placed) == len(set().union(*placed))  # no table twice
    assert set().union(*placed) == set(SQLModel.metadata.tables)


def _value(session: Session) -> None:
    row = one(session, DataValue)
    row.value += 1  # type: ignore[attr-defined]
    session.add(row)


def _new_value(session: Session) -> None:
    variable = one(session, Variable, Variable.code == "psks_terdata")
    session.add(DataValue(variable_id=variable.id, year=YEAR + 3, quarter=1, value=7.0))  # type: ignore[attr-defined]


def _deleted_value(session: Session) -> None:
    session.delete(one(session, DataValue))


def _target(session: Session) -> None:
    indicator = one(session, Indicator, Indicator.code == "KADIS.1.1")
    session.add(Target(indicator_id=indicator.id, year=YEAR + 3, quarter=0, value=50.0))  # type: ignore[attr-defined]


def _changed(model: type[SQLModel], field: str, value: object) -> Callable[[Session], None]:
    def change(session: Session) -> None:
        row = one(session, model)
        setattr(row, field, value)
        session.add(row)

    return change


def _rule(session: Session) -> None:
    agency = session.exec(select(Agency).order_by(Agency.id)).first()
    session.add(
        QualityRule(
            agency_id=agency.id,  # type: ignore[union-attr]
            code="aturan_baru",
            name="Aturan baru",
            left="psks_diberdayakan",
            operator=Operator.le,
            right="psks_terdata",
        )
    )


def _period(session: Session) -> None:
    unit = one(session, Unit, Unit.code == "BID_PSM")
    session.add(
        Period(
            agency_id=unit.agency_id,  # type: ignore[attr-defined]
            unit_id=unit.id,  # type: ignore[attr-defined]
            year=YEAR + 3,
            quarter=1,
            state=PeriodState.submitted,
            changed_at=utcnow(),
            changed_by="uji",
        )
    )


def _source_unit(session: Session) -> None:
    session.delete(one(session, IndicatorSourceUnit))


CHANGES = {
    "a value": _value,
    "a new value": _new_value,
    "a value deleted": _deleted_value,
    "a target": _target,
    "an indicator's formula": _changed(Indicator, "polarity", "lower_is_better"),
    "an objective": _changed(Objective, "statement", "Sasaran yang lain"),
    "a variable": _changed(Variable, "label", "Komponen lain"),
    "a unit": _changed(Unit, "name", "Bidang Lain"),
    "a position": _changed(Position, "title", "Jabatan Lain"),
    "a decree": _changed(Decree, "title", "Keputusan Lain"),
    "the agency's bands": _changed(Agency, "quality_capaian_above", 150.0),
    "a rule": _rule,
    "a workflow state": _period,
    "a source unit": _source_unit,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_revises_its_agency_and_no_other(
    session: Session, agencies: tuple[int, int], change: Callable[[Session], None]
) -> None:
    seeded, other = agencies
    before, untouched = revision_of(session, seeded), revision_of(session, other)
    assert before is not None and untouched is not None
    change(session)
    session.flush()
    assert revision_of(session, seeded) != before
    assert revision_of(session, other) == untouched


def test_a_shared_scale_revises_every_agency(session: Session, agencies: tuple[int, int]) -> None:
    before = {a: revision_of(session, a) for a in agencies}
    session.add(RatingScale(code="baru", name="Skala baru", bands=[{"min": 0, "label": "Kurang"}]))
    session.flush()
    assert all(revision_of(session, a) != r for a, r in before.items())


def test_an_unrelated_change_revises_nothing(session: Session, agencies: tuple[int, int]) -> None:
    before = {a: revision_of(session, a) for a in agencies}
    create_key(session, "pembaca", Role.reader)
    session.flush()
    assert {a: revision_of(session, a) for a in agencies} == before


def test_a_rolled_back_change_brings_its_revision_back(
    session: Session, agencies: tuple[int, int]
) -> None:
    seeded, _ = agencies
    before = revision_of(session, seeded)
    savepoint = session.begin_nested()
    _value(session)
    session.flush()
    assert revision_of(session, seeded) != before
    savepoint.rollback()
    assert revision_of(session, seeded) == before


def test_an_agency_deleted_with_its_data_is_flushed(
    session: Session, agencies: tuple[int, int]
) -> None:
    _, other = agencies
    session.add(Unit(agency_id=other, code="BID_LAIN", name="Bidang Lain"))
    session.flush()
    for unit in session.exec(select(Unit).where(Unit.agency_id == other)):
        session.delete(unit)
    session.delete(session.get(Agency, other))
    session.flush()
    assert revision_of(session, other) is None


def test_the_revision_is_not_audited(session: Session, agencies: tuple[int, int]) -> None:
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity == "agency", AuditEvent.entity_id == str(agencies[1])
        )
    ).all()
    assert events and all("data_revision" not in (e.after or {}) for e in events)


# The memo -----------------------------------------------------------------------------------


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The indicators computed afresh, one list per computation."""
    calls: list[list[int]] = []
    compute = achievements._rows_of

    def counted(session, found, *args):  # type: ignore[no-untyped-def]
        calls.append([d.id for d in found])
        return compute(session, found, *args)

    monkeypatch.setattr(achievements, "_rows_of", counted)
    return calls


def figure(session: Session, ident: int, quarter: int = 2) -> dict:  # type: ignore[type-arg]
    return achievements.achievement_rows(session, [ident], YEAR, [quarter])[0]


def test_a_figure_is_remembered_until_its_agency_changes(
    session: Session, computed: list[list[int]]
) -> None:
    ident = indicator_id(session, "KADIS.1.1")
    variable = one(session, Variable, Variable.code == "psks_terdata")
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=1, value=123.0))  # type: ignore[attr-defined]
    session.flush()  # a revision no other test has seen
    first = figure(session, ident)
    assert computed == [[ident]]
    assert figure(session, ident) == first and computed == [[ident]]  # remembered
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=2, value=321.0))  # type: ignore[attr-defined]
    session.flush()
    changed = figure(session, ident)
    assert computed == [[ident], [ident]]
    assert changed["values"]["psks_terdata"] == 321.0 != first["values"].get("psks_terdata")


def test_findings_are_remembered_until_their_agency_changes(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = one(session, Unit, Unit.code == "BID_PSM")
    variable = one(session, Variable, Variable.code == "psks_terdata")
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=1, value=99.0))  # type: ignore[attr-defined]
    session.flush()  # a revision no other test has seen
    read: list[set[int]] = []
    facts_of = quality._quarters_of

    def counted(session, units, *args):  # type: ignore[no-untyped-def]
        read.append({row[0] for row in units})
        return facts_of(session, units, *args)

    monkeypatch.setattr(quality, "_quarters_of", counted)
    pair = (unit.id, 1)  # type: ignore[attr-defined]
    first = quality.current_findings(session, [pair], YEAR)[pair]
    assert quality.current_findings(session, [pair], YEAR)[pair] == first
    assert read == [{unit.id}]  # type: ignore[attr-defined]
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=2, value=1.0))  # type: ignore[attr-defined]
    session.flush()
    quality.current_findings(session, [pair], YEAR)
    assert len(read) == 2


def test_a_remembered_figure_is_a_copy(session: Session) -> None:
    ident = indicator_id(session, "KADIS.1.1")
    first = figure(session, ident)
    first["achievement"] = -1.0
    first["quality"] = None
    again = figure(session, ident)
    assert again["achievement"] != -1.0 and again["quality"] is not None


def test_a_change_under_the_service_is_served_after_forget(session: Session) -> None:
    """SQL written by hand revises nothing: the remembered figure is served until `iki
    forget` revises every agency (the seal check never reads remembered figures)."""
    ident = indicator_id(session, "KADIS.1.1")
    variable = one(session, Variable, Variable.code == "psks_terdata")
    session.add(DataValue(variable_id=variable.id, year=YEAR, quarter=2, value=150.0))  # type: ignore[attr-defined]
    session.flush()
    first = figure(session, ident)
    session.execute(
        text("UPDATE data_value SET value = 100 WHERE variable_id = :v AND year = :y"),
        {"v": variable.id, "y": YEAR},  # type: ignore[attr-defined]
    )
    assert figure(session, ident) == first
    assert revisions.forget(session) == len(session.exec(select(Agency.id)).all())
    assert figure(session, ident)["values"]["psks_terdata"] == 100.0


def test_the_memo_forgets_the_least_recently_used() -> None:
    memo = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == (1, None, 3, 2)


def test_a_commit_elsewhere_is_seen(committed_engine) -> None:  # type: ignore[no-untyped-def]
    """A reader that remembered a figure sees another transaction's committed change at its
    next read, on both databases (the revision is read before the rows)."""
    with Session(committed_engine) as reader:
        ident = indicator_id(reader, "KADIS.1.1")
        before = figure(reader, ident, 1)
        reader.commit()
        with Session(committed_engine) as writer:
            variable = one(writer, Variable, Variable.code == "psks_diberdayakan")
            writer.add(DataValue(variable_id=variable.id, year=YEAR, quarter=1, value=77.0))  # type: ignore[attr-defined]
            writer.commit()
        after = figure(reader, ident, 1)
        assert after["values"]["psks_diberdayakan"] == 77.0
        assert after != before


def test_no_statement_of_the_service_writes_figures_rows_unseen() -> None:
    """Rows are revised by the flush hook, which sees what the ORM writes: a Core `insert`,
    `update` or `delete` of a table figures rest on would change them unseen. The service's
    own code writes such statements only for tables no figure rests on (and the revision
    itself)."""
    import ast
    from pathlib import Path

    import app.models as models

    root = Path(__file__).resolve().parents[2] / "app"
    written: dict[str, set[str]] = {}
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("insert", "update", "delete")
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                model = getattr(models, node.args[0].id, None)
                table = getattr(model, "__tablename__", node.args[0].id)
                written.setdefault(table, set()).add(str(source.relative_to(root)))
    assert written  # the scan finds the statements there are
    unseen = {
        table: files
        for table, files in written.items()
        if table not in UNRELATED and not (table == "agency" and files == {"services/revisions.py"})
    }
    assert unseen == {}


def test_a_pulls_indicators_are_remembered_in_order_until_a_definition_moves(
    client, session: Session, reader, count_statements
) -> None:  # type: ignore[no-untyped-def]
    """A pull's pages slice one remembered list of the filter's indicators, in SK order; a
    definition that moves (here an indicator renumbered last of its objective) is seen at
    the next read."""

    def codes() -> list[str]:
        answer = client.get(
            "/api/v1/achievements", headers=reader, params={"year": YEAR, "limit": 1000}
        )
        assert answer.status_code == 200, answer.text
        return [item["indicator"]["code"] for item in answer.json()["items"]]

    first = codes()
    count_statements.statements.clear()
    assert codes() == first
    assert not any("count(" in s.lower() for s in count_statements.statements)
    moved = session.exec(select(Indicator).where(Indicator.code == first[0])).one()
    siblings = session.exec(
        select(Indicator.code).where(Indicator.objective_id == moved.objective_id)
    ).all()
    assert len(siblings) > 1  # so that renumbering it moves it
    moved.number = 99
    session.add(moved)
    session.flush()
    again = codes()
    assert again != first and sorted(again) == sorted(first)
    assert again.index(moved.code) > first.index(moved.code)
