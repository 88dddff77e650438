"""The seed: the whole 2025 SK, loaded idempotently."""

import re
from collections import Counter

import pytest
from pydantic_core import to_jsonable_python
from sqlalchemy import inspect
from sqlmodel import Session, col, func, select

from app.core.errors import InvalidInput
from app.formula import parse, validate
from app.models import (
    Agency,
    AuditEvent,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    RatingScale,
    Unit,
    Variable,
)
from app.services.audit import BOOKKEEPING_COLUMNS
from app.services.seed import load_seed
from tests.conftest import SEED_DIR


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_seeded_counts(session):
    assert _count(session, Agency) == 1
    assert _count(session, Unit) == 6
    assert _count(session, Position) == 5
    assert _count(session, Indicator) == 39
    decree = session.exec(select(Decree)).one()
    assert decree.number == "000.8.6.3/06/425.109/2025"
    assert decree.year == 2025
    assert decree.date.isoformat() == "2025-01-03"
    assert decree.signatory == "Dr. REY SUWIGTYO, S.Sos., M.Si."


def test_seeded_decree_text_is_the_sk(session):
    decree = session.exec(select(Decree)).one()
    assert decree.heading == (
        "KEPUTUSAN KEPALA DINAS SOSIAL, PEMBERDAYAAN PEREMPUAN DAN PERLINDUNGAN ANAK "
        "KOTA PROBOLINGGO"
    )
    assert len(decree.considerations) == 2
    assert decree.considerations[1].startswith("Bahwa untuk kelancaran pelaksanaan tersebut")
    assert len(decree.legal_bases) == 10
    # joined across the page break of the SK
    assert (
        "Perubahan Kedua atas Undang-Undang Nomor 23 Tahun 2014 (Lembaran"
        in (decree.legal_bases[0])
    )
    assert [clause["label"] for clause in decree.clauses] == ["KESATU", "KEDUA", "KETIGA"]
    assert decree.clauses[1]["items"] == [
        "Memberikan informasi kinerja yang penting dan diperlukan dalam menyelenggarakan "
        "manajemen kinerja organisasi;",
        "Mengukur keberhasilan pencapaian suatu tujuan dan sasaran strategis yang digunakan "
        "untuk perbaikan kinerja dan peningkatan akuntabilitas kinerja organisasi.",
        "Meningkatkan kinerja individu dalam pelaksanaan tugas sehari-hari.",
    ]
    assert decree.clauses[2]["text"].endswith("disesuaikan sebagaimana mestinya.")
    assert decree.place == "Probolinggo"
    assert decree.signatory_title == (
        "KEPALA DINAS SOSIAL, PEMBERDAYAAN PEREMPUAN, DAN PERLINDUNGAN ANAK KOTA PROBOLINGGO"
    )
    assert (decree.signatory_rank, decree.signatory_nip) == (
        "Pembina Utama Muda",
        "19670711 198809 1 001",
    )


def test_indicators_per_position(session):
    rows = session.exec(
        select(Position.code, func.count(col(Indicator.id)))
        .join(Objective, Objective.position_id == Position.id)
        .join(Indicator, Indicator.objective_id == Objective.id)
        .group_by(Position.code)
    ).all()
    assert dict(rows) == {
        "KADIS": 12,
        "SEKRETARIS": 11,
        "KABID_PP": 4,
        "KABID_RPJS": 6,
        "KABID_PPPHA": 6,
    }


def test_unit_names_follow_the_sk(session):
    names = set(session.exec(select(Unit.name)))
    assert {
        "Sekretariat",
        "Bidang Pemberdayaan Sosial dan Masyarakat",
        "Bidang Rehabilitasi Sosial, Perlindungan dan Jaminan Sosial",
        "Bidang Pemberdayaan Perempuan",
        "Bidang Perlindungan Perempuan dan Pengarusutamaan Hak Anak",
    } <= names


def test_every_formula_names_only_variables_of_its_agency(session):
    variables = {v.code for v in session.exec(select(Variable))}
    used: Counter[str] = Counter()
    for indicator in session.exec(select(Indicator)):
        checked = validate(indicator.formula, variables)
        used.update(checked.variables)
        assert re.fullmatch(r"[A-Z_]+\.\d+\.\d+", indicator.code)
    assert set(used) == variables, "every variable is used by some formula"


def test_indicators_that_name_the_same_quantity_share_a_variable(session):
    formulas = {i.code: parse(i.formula).variables for i in session.exec(select(Indicator))}
    assert set(formulas["KADIS.1.2"]) & set(formulas["KADIS.1.3"]) == {"ppks_terdata"}
    shared_psks = set(formulas["KADIS.1.1"]) & set(formulas["KADIS.2.1"])
    assert len(shared_psks) == 1


def test_sk_discrepancies_are_encoded_by_intent_and_noted(session):
    indicators = {i.code: i for i in session.exec(select(Indicator))}
    for code in ("SEKRETARIS.1.8", "SEKRETARIS.2.2", "KABID_PPPHA.1.3", "KABID_PPPHA.2.5"):
        assert indicators[code].notes, f"{code} should explain the SK's discrepancy"
    # Sekretaris 8 does not divide by the BMD needs of Sekretaris 7.
    assert (
        parse(indicators["SEKRETARIS.1.8"].formula).variables[-1]
        != (parse(indicators["SEKRETARIS.1.7"].formula).variables[-1])
    )
    # Kabid RPJS "Jumlah ..." indicators are percentages by their formula.
    rpjs = [i for c, i in indicators.items() if c.startswith("KABID_RPJS.")]
    assert all(i.unit_of_measure == "%" for i in rpjs)
    assert all(i.notes for i in rpjs if i.name.startswith("Jumlah"))


def test_every_indicator_has_a_source_unit(session):
    with_source = set(session.exec(select(IndicatorSourceUnit.indicator_id)))
    assert _count(session, Indicator) == len(with_source)


def test_default_rating_scale_is_seeded(session):
    scale = session.exec(select(RatingScale).where(RatingScale.is_default)).one()
    assert [band["code"] for band in scale.bands] == [
        "sangat_tinggi",
        "tinggi",
        "sedang",
        "rendah",
        "sangat_rendah",
    ]


def test_seeding_again_changes_nothing(session):
    before = {i.code: (i.id, i.updated_at) for i in session.exec(select(Indicator))}
    report = load_seed(session, SEED_DIR)
    assert not report.changed, (report.created, report.updated)
    assert report.loaded == []
    after = {i.code: (i.id, i.updated_at) for i in session.exec(select(Indicator))}
    assert after == before


def test_seeding_again_keeps_admin_edits_unless_asked_to_update(session):
    indicator = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.1")).one()
    indicator.notes = "Disunting admin"
    variable = session.exec(select(Variable).where(Variable.code == "psks_terdata")).one()
    variable.aggregation = "max"
    mine = RatingScale(code="MINE", name="Skala sendiri", is_default=True, bands=[])
    session.exec(select(RatingScale).where(RatingScale.is_default)).one().is_default = False
    session.add_all([indicator, variable, mine])
    session.flush()

    report = load_seed(session, SEED_DIR)
    assert not report.changed
    session.refresh(indicator)
    session.refresh(variable)
    assert indicator.notes == "Disunting admin"
    assert variable.aggregation == "max"
    default = session.exec(select(RatingScale).where(RatingScale.is_default)).one()
    assert default.code == "MINE"

    report = load_seed(session, SEED_DIR, update_existing=True)
    assert report.updated["indicator"] == 1 and report.updated["variable"] == 1
    session.refresh(indicator)
    session.refresh(variable)
    assert indicator.notes is None
    assert variable.aggregation == "last"
    default = session.exec(select(RatingScale).where(RatingScale.is_default)).one()
    assert default.code == "PERMENDAGRI_86_2017"


def test_renamed_codes_are_not_created_again(session):
    agency = session.exec(select(Agency)).one()
    agency.code = "DINSOS"
    indicator = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.1")).one()
    indicator.code = "KADIS.1.10"
    decree = session.exec(select(Decree)).one()
    decree.year = 2026
    session.add_all([agency, indicator, decree])
    session.flush()
    report = load_seed(session, SEED_DIR)
    assert not report.changed
    assert _count(session, Agency) == 1
    assert session.exec(select(Indicator).where(Indicator.code == "KADIS.1.1")).first() is None


def test_a_new_decree_file_is_loaded_into_an_agency_as_it_is(session, tmp_path):
    import shutil

    import yaml

    seed = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed)
    folder = seed / "dinsosp3a-probolinggo"
    sk = yaml.safe_load((folder / "decree-2025.yaml").read_text())
    sk["decree"].update(year=2026, number="000.8.6.3/01/425.109/2026", date="2026-01-05")
    (folder / "decree-2026.yaml").write_text(yaml.safe_dump(sk, allow_unicode=True))
    unit = session.exec(select(Unit).where(Unit.code == "BID_PP")).one()
    unit.name = "Bidang PP (disunting)"
    session.add(unit)
    session.flush()

    report = load_seed(session, seed)
    assert report.loaded == ["dinsosp3a-probolinggo/decree-2026.yaml"]
    assert report.created["decree"] == 1 and report.created["indicator"] == 39
    assert report.created["indicator_source_unit"] >= 39
    assert not report.created["unit"] and not report.updated["unit"]
    session.refresh(unit)
    assert unit.name == "Bidang PP (disunting)"
    new = session.exec(select(Decree).where(Decree.year == 2026)).one()
    parents = session.exec(
        select(Indicator).where(
            Indicator.decree_id == new.id, col(Indicator.parent_id).is_not(None)
        )
    ).all()
    assert parents
    new_ids = set(session.exec(select(Indicator.id).where(Indicator.decree_id == new.id)))
    assert all(p.parent_id in new_ids for p in parents)  # cascades stay within the new SK


def _copy_of_the_seed(tmp_path, edit) -> object:
    """A copy of the seed folder as a new agency, with `edit` applied to its YAML files."""
    import shutil

    import yaml

    seed = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed)
    folder = seed / "dinsosp3a-probolinggo"
    files = {
        name: yaml.safe_load((folder / name).read_text())
        for name in ("organization.yaml", "variables.yaml", "decree-2025.yaml")
    }
    files["organization.yaml"]["agency"]["code"] = "DINBARU"
    edit(files)
    for name, data in files.items():
        (folder.parent / "baru").mkdir(exist_ok=True)
        (folder.parent / "baru" / name).write_text(yaml.safe_dump(data, allow_unicode=True))
    shutil.rmtree(folder)
    return seed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda f: f["organization.yaml"]["units"][1].update(code="bid_psm"),
            "organization.yaml, unit bid_psm: code: String should match pattern",
            id="a code the API refuses",
        ),
        pytest.param(
            lambda f: f["organization.yaml"]["positions"][0].update(superior="KABID_PSM"),
            "position KADIS: Unknown position 'KABID_PSM'",
            id="a superior listed after (or a cycle)",
        ),
        pytest.param(
            lambda f: f["decree-2025.yaml"]["objectives"][0]["indicators"][0].update(
                formula="psks_diberdayakan / psks_terdat * 100"
            ),
            "indicator KADIS.1.1: Unknown variable 'psks_terdat'",
            id="a formula over an unknown variable",
        ),
        pytest.param(
            lambda f: f["variables.yaml"]["variables"][0].update(min_value=10, max_value=1),
            "max_value: Value error, must not be less than min_value",
            id="a range the API refuses",
        ),
        pytest.param(
            lambda f: f["variables.yaml"]["variables"][0].update(max_value=False),
            "max_value: Value error, must be a number",
            id="a boolean as a number",
        ),
        pytest.param(
            lambda f: f["organization.yaml"]["units"][1].update(name="Bidang\x1fPSM"),
            "unit BID_PSM: name: Value error, must be one line without control characters "
            "(it holds U+001F)",
            id="a control character",
        ),
        pytest.param(
            lambda f: f["decree-2025.yaml"]["objectives"][0]["indicators"][0].update(
                name="A" * 20_000
            ),
            "indicator KADIS.1.1: name: String should have at most 600 characters",
            id="a name longer than its field",
        ),
    ],
)
def test_the_seed_gets_every_check_of_the_api(session, tmp_path, edit, message):
    seed = _copy_of_the_seed(tmp_path, edit)
    with pytest.raises(InvalidInput) as refused:
        load_seed(session, seed)
    assert message in refused.value.detail
    assert refused.value.detail.startswith("Seed baru/")


def test_a_valid_copy_of_the_seed_loads_as_a_second_agency(session, tmp_path):
    report = load_seed(session, _copy_of_the_seed(tmp_path, lambda files: None))
    assert report.created["agency"] == 1 and report.created["indicator"] == 39
    assert _count(session, Agency) == 2


def test_a_code_listed_twice_is_refused(session, tmp_path):
    def twice(files):
        indicators = files["decree-2025.yaml"]["objectives"][0]["indicators"]
        indicators.append(dict(indicators[0], number=99))

    with pytest.raises(InvalidInput) as refused:
        load_seed(session, _copy_of_the_seed(tmp_path, twice))
    assert "indicator KADIS.1.1: Decree 2025 already has an indicator 'KADIS.1.1'" in (
        refused.value.detail
    )


def test_the_seed_records_one_event_per_row_it_creates_with_its_values(session, tmp_path):
    start = session.exec(select(func.max(AuditEvent.id))).one() or 0
    load_seed(session, _copy_of_the_seed(tmp_path, lambda files: None))
    agency = session.exec(select(Agency).where(Agency.code == "DINBARU")).one()
    decree = session.exec(select(Decree).where(Decree.agency_id == agency.id)).one()
    indicators = session.exec(select(Indicator).where(Indicator.decree_id == decree.id)).all()
    rows: list = [
        agency,
        decree,
        *indicators,
        *session.exec(select(Unit).where(Unit.agency_id == agency.id)),
        *session.exec(select(Position).where(Position.agency_id == agency.id)),
        *session.exec(select(Variable).where(Variable.agency_id == agency.id)),
        *session.exec(select(Objective).where(Objective.decree_id == decree.id)),
        *session.exec(
            select(IndicatorSourceUnit).where(
                col(IndicatorSourceUnit.indicator_id).in_([i.id for i in indicators])
            )
        ),
    ]
    expected = {}
    for row in rows:
        mapper = inspect(row).mapper
        key = ":".join(str(part) for part in mapper.primary_key_from_instance(row))
        values = {
            attr.key: getattr(row, attr.key)
            for attr in mapper.column_attrs
            if attr.key not in BOOKKEEPING_COLUMNS  # an agency's revision
        }
        expected[row.__tablename__, key] = to_jsonable_python(values)
    events = session.exec(select(AuditEvent).where(AuditEvent.id > start)).all()
    assert {e.action for e in events} == {"create"}
    assert len(events) == len(expected) == 181
    assert {(e.entity, e.entity_id): e.after for e in events} == expected


def test_seeding_an_agency_reads_a_fixed_number_of_queries(session, tmp_path, count_statements):
    seed = _copy_of_the_seed(tmp_path, lambda files: None)
    count_statements.statements.clear()
    load_seed(session, seed)
    reads = [s for s in count_statements.statements if s.lstrip().upper().startswith("SELECT")]
    # 181 rows: one query per entry would be well over a hundred (31: the decree's new
    # indicators also read, once, which of its quarters are under review or sealed; on
    # PostgreSQL that read first locks the agency, one more).
    assert len(reads) <= 32, reads


def test_updating_from_the_seed_as_loaded_changes_nothing(session):
    report = load_seed(session, SEED_DIR, update_existing=True)
    assert not report.updated, report.updated


def test_a_seed_that_cannot_be_read_is_refused_in_words(session, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        load_seed(session, tmp_path / "nowhere")
    broken = _copy_of_the_seed(tmp_path, lambda files: None)
    (broken / "baru" / "variables.yaml").write_text("variables: [\n  - code: x\n")
    with pytest.raises(InvalidInput, match=r"variables\.yaml: not valid YAML"):
        load_seed(session, broken)


def test_a_key_given_twice_is_refused_not_read_as_its_last_value(session, tmp_path):
    seed = _copy_of_the_seed(tmp_path, lambda files: None)
    variables = seed / "baru" / "variables.yaml"
    text = variables.read_text()
    first = text.index("  code: ")  # the first variable's code, given again below it
    line = text[first : text.index("\n", first) + 1]
    variables.write_text(
        text[:first] + line + line.replace("code:", "code: ") + text[first + len(line) :]
    )
    number = text[:first].count("\n") + 2
    with pytest.raises(
        InvalidInput, match=rf"variables\.yaml: not valid YAML \(line {number}\): the key 'code'"
    ):
        load_seed(session, seed)
    assert load_seed(session, _copy_of_the_seed(tmp_path / "again", lambda files: None)).changed


def test_a_seed_path_longer_than_its_column_is_refused(session, tmp_path):
    # PostgreSQL would refuse it with a database error, SQLite store it: refused alike, first.
    seed = _copy_of_the_seed(tmp_path, lambda files: None)
    (seed / "baru").rename(seed / ("b" * 240))
    with pytest.raises(InvalidInput, match="at most 255 characters"):
        load_seed(session, seed)
