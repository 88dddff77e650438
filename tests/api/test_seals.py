"""Official figures stay official: every change that would move a figure of a submitted or
verified quarter is refused with 409 and stores nothing, and the verified figure served
(the pull, the report) stays what it was at verification. The cases an outside probe found,
replayed through the API."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import text
from sqlmodel import func, select

from app.models import AuditEvent, Role, SealedFigure, Variable
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"
YEAR = 2025


@pytest.fixture
def kadis_1_1(session):
    return indicator_id(session, "KADIS.1.1")  # psks_diberdayakan / psks_terdata, BID_PSM


def step(client, headers, action, quarter, unit="BID_PSM"):
    note = {"note": "alasan"} if action in ("return", "reopen") else None
    response = client.post(
        f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{action}", headers=headers, json=note
    )
    return response


@pytest.fixture
def verified(client, admin, psm, verifier, kadis_1_1):
    """BID_PSM's Q1 and Q2 verified (psks_terdata a stock: 200 then 150), Q3 submitted."""
    targets = f"{API}/indicators/{kadis_1_1}/targets/{YEAR}"
    assert client.put(targets, headers=admin, json={"annual": 40}).status_code == 200
    for quarter, values in (
        (1, {"psks_diberdayakan": 20, "psks_terdata": 200}),
        (2, {"psks_diberdayakan": 40, "psks_terdata": 150}),
        (3, {"psks_diberdayakan": 10, "psks_terdata": 150}),
    ):
        written = client.put(
            f"{API}/indicators/{kadis_1_1}/realizations/{YEAR}/{quarter}",
            headers=psm,
            json={"values": values},
        )
        assert written.status_code == 200, written.text
        assert step(client, psm, "submit", quarter).status_code == 200
    for quarter in (1, 2):
        assert step(client, verifier, "verify", quarter).status_code == 200


def official(client, headers, quarter):
    """What e-SAKIP and a reader of the report are served as verified, as bytes."""
    pulled = client.get(
        f"{API}/achievements",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "verified_only": "true", "unit": "BID_PSM"},
    )
    assert pulled.status_code == 200, pulled.text
    report = client.get(
        f"{API}/positions/1/report",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "verified_only": "true"},
    )
    assert report.status_code == 200
    workbook = client.get(
        f"{API}/reports/achievements.xlsx",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "verified_only": "true"},
    )
    assert workbook.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(workbook.content))
    cells = [[row for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]
    # The pull's items as served (its cursor moves with every change of anything), the
    # report's bytes, and the workbook's cells (its file carries the time it was made).
    return pulled.json()["items"], report.content, cells


def event_count(session):
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def assert_refused(response, session, before, quarters):
    body = assert_problem(response, 409, "verified_data")
    assert set(body["quarters"]) >= set(quarters), body
    assert "reopen" in body["detail"]
    assert event_count(session) == before  # nothing stored, nothing audited
    return body


def variable(session, code):
    return session.exec(select(Variable).where(Variable.code == code)).one()


@pytest.mark.usefixtures("verified")
def test_an_aggregation_change_is_refused_and_the_figure_does_not_move(client, session, admin):
    before = official(client, admin, 2)
    psks_terdata = variable(session, "psks_terdata")
    count = event_count(session)
    body = assert_refused(
        client.patch(
            f"{API}/variables/{psks_terdata.id}", headers=admin, json={"aggregation": "sum"}
        ),
        session,
        count,
        [1, 2, 3],
    )
    assert body["field"] == "aggregation"
    assert "BID_PSM 2025 Q2 (verified)" in body["detail"]
    assert "BID_PSM 2025 Q3 (submitted)" in body["detail"]
    session.refresh(psks_terdata)
    assert psks_terdata.aggregation == "last"
    assert official(client, admin, 2) == before
    for field, value in (("value_type", "number"), ("min_value", 1), ("max_value", 10_000)):
        response = client.patch(
            f"{API}/variables/{psks_terdata.id}", headers=admin, json={field: value}
        )
        assert_refused(response, session, count, [1, 2])
    # What figures do not rest on may change.
    relabelled = client.patch(
        f"{API}/variables/{psks_terdata.id}", headers=admin, json={"label": "PSKS terdata"}
    )
    assert relabelled.status_code == 200, relabelled.text


@pytest.mark.usefixtures("verified")
def test_a_variable_cannot_leave_its_verified_unit_to_be_written_again(
    client, session, admin, make_key
):
    before = official(client, admin, 1)
    psks_terdata = variable(session, "psks_terdata")
    count = event_count(session)
    assert_refused(
        client.patch(
            f"{API}/variables/{psks_terdata.id}", headers=admin, json={"owner_unit": "UPTD_PPA"}
        ),
        session,
        count,
        [1, 2],
    )
    everyone = make_key(Role.operator, units=("BID_PSM", "UPTD_PPA"))
    rewrite = client.put(
        f"{API}/data-values/{YEAR}/1", headers=everyone, json={"values": {"psks_terdata": 50}}
    )
    assert_problem(rewrite, 409, "period_locked")
    assert official(client, admin, 1) == before


@pytest.mark.usefixtures("verified")
def test_a_rating_scale_edit_is_refused_while_quarters_are_official(client, session, admin):
    before = official(client, admin, 1)
    scale = client.get(f"{API}/rating-scales", headers=admin).json()
    (default,) = [s for s in scale if s["is_default"]]
    raised = {**default, "bands": [dict(b) for b in default["bands"]]}
    top = max(raised["bands"], key=lambda b: b["min"] if b["min"] is not None else -1)
    top["min"] = 1000
    body = {k: raised[k] for k in ("name", "bands", "is_default")}
    count = event_count(session)
    assert_refused(
        client.put(f"{API}/rating-scales/{default['code']}", headers=admin, json=body),
        session,
        count,
        [1, 2],
    )
    # Pointing the agency at another scale would rerate it too.
    other = {**body, "is_default": False}
    assert client.put(f"{API}/rating-scales/LAIN", headers=admin, json=other).status_code == 200
    count = event_count(session)
    assert_refused(
        client.put(f"{API}/agencies/1/rating-scale", headers=admin, json={"code": "LAIN"}),
        session,
        count,
        [1, 2],
    )
    assert official(client, admin, 1) == before


@pytest.mark.usefixtures("verified")
def test_a_submitted_quarter_is_under_review_for_definitions_and_targets(
    client, session, admin, verifier, kadis_1_1
):
    """The probe: an admin changed the target of a submitted quarter and verified it
    themselves. The target change is refused, and an admin who set the quarter's target
    may not verify it."""
    count = event_count(session)
    bulk = client.put(
        f"{API}/targets/{YEAR}",
        headers=admin,
        json=[{"indicator_id": kadis_1_1, "annual": 40, "quarters": {"3": 5}}],
    )
    (error,) = assert_problem(bulk, 409, "targets_rejected")["errors"]
    assert (error["code"], error["quarters"]) == ("verified_data", [3])
    assert "BID_PSM 2025 Q3 (submitted)" in error["message"]
    assert event_count(session) == count
    assert_refused(
        client.patch(
            f"{API}/indicators/{kadis_1_1}",
            headers=admin,
            json={"formula": "psks_diberdayakan / psks_terdata"},
        ),
        session,
        count,
        [1, 2, 3],
    )
    assert_problem(step(client, admin, "verify", 3), 409, "self_verification")
    # The target of a quarter that is still open may change.
    q4 = client.put(
        f"{API}/indicators/{kadis_1_1}/targets/{YEAR}",
        headers=admin,
        json={"annual": 40, "quarters": {"4": 45}},
    )
    assert q4.status_code == 200, q4.text
    # Returned, the quarter's target may change again; then another verifies.
    assert step(client, verifier, "return", 3).status_code == 200
    q3 = client.put(
        f"{API}/indicators/{kadis_1_1}/targets/{YEAR}",
        headers=admin,
        json={"annual": 40, "quarters": {"3": 30, "4": 45}},
    )
    assert q3.status_code == 200, q3.text


@pytest.mark.usefixtures("verified")
def test_no_indicator_joins_or_leaves_a_decree_under_seal(client, session, admin, kadis_1_1):
    count = event_count(session)
    new = {
        "objective_id": 1,
        "code": "KADIS.1.9",
        "name": "Persentase PSKS aktif",
        "formula": "psks_diberdayakan / psks_terdata * 100",
        "unit_of_measure": "%",
    }
    assert_refused(client.post(f"{API}/indicators", headers=admin, json=new), session, count, [1])
    assert_refused(
        client.delete(f"{API}/indicators/{kadis_1_1}", headers=admin), session, count, [1]
    )


@pytest.mark.usefixtures("verified")
def test_a_reopen_frees_the_definitions_again(client, session, admin, verifier):
    for quarter in (2, 1):
        assert step(client, verifier, "reopen", quarter).status_code == 200
    assert step(client, verifier, "return", 3).status_code == 200
    psks_terdata = variable(session, "psks_terdata")
    changed = client.patch(
        f"{API}/variables/{psks_terdata.id}", headers=admin, json={"aggregation": "max"}
    )
    assert changed.status_code == 200, changed.text


@pytest.mark.usefixtures("verified")
def test_verified_figures_are_served_from_their_seal_and_drift_is_reported(
    client, session, admin, make_key
):
    """A change that no refusal caught (here written under the API, as a careless script
    with database access would) does not move the figure served as verified; the check
    finds it, and reports nothing before it."""
    auditor = make_key(Role.auditor)
    clean = client.get(f"{API}/seals/check", headers=auditor, params={"year": YEAR}).json()
    assert not any(c["drifted"] or c["fields"] for c in clean["items"])
    assert clean["total"] >= 2  # KADIS.1.1 at Q1 and Q2 at least
    before = official(client, admin, 2)
    psks_terdata = variable(session, "psks_terdata")
    session.execute(
        text(
            "UPDATE data_value SET value = 100 WHERE variable_id = :v AND year = :y AND quarter = 2"
        ),
        {"v": psks_terdata.id, "y": YEAR},
    )
    session.expire_all()
    assert official(client, admin, 2) == before
    live = client.get(
        f"{API}/achievements",
        headers=admin,
        params={"year": YEAR, "quarter": 2, "indicator": "KADIS.1.1"},
    ).json()["items"][0]
    assert live["values"]["psks_terdata"] == 100  # the open pull shows what is stored now
    report = client.get(f"{API}/seals/check", headers=auditor, params={"year": YEAR}).json()
    drifted = {(d["indicator"], d["quarter"]): d["fields"] for d in report["items"] if d["drifted"]}
    fields = drifted[("KADIS.1.1", 2)]
    assert fields["values"]["sealed"]["psks_terdata"] == 150
    assert fields["values"]["current"]["psks_terdata"] == 100
    # (20 + 40 served, a flow) / 150 registered (a stock) against / 100 now
    assert fields["realization"] == {"sealed": 40.0, "current": 60.0}
    assert_problem(
        client.get(f"{API}/seals/check", headers=make_key(Role.reader)), 403, "forbidden"
    )


@pytest.mark.usefixtures("verified")
def test_a_reopen_reseals_and_unseals(client, session, admin, verifier):
    sealed = official(client, admin, 2)[0][0]
    assert (sealed["verification"], sealed["realization"]) == (
        "verified",
        40.0,
    )
    assert step(client, verifier, "reopen", 2).status_code == 200
    reopened = official(client, admin, 2)[0][0]
    # Q2's values no longer count as official: psks_terdata is a stock, Q2 missing.
    assert reopened["verification"] != "verified"
    assert reopened["status"] == "partial_data"
    assert step(client, verifier, "reopen", 1).status_code == 200
    count = session.exec(select(func.count()).select_from(SealedFigure)).one()
    assert count == 0  # nothing verified is left for any figure to rest on


@pytest.mark.usefixtures("verified")
def test_the_seed_adds_no_indicator_to_a_decree_under_seal(session):
    """`iki seed --update` with a new indicator over BID_PSM's verified variables is refused
    as the API's create is: the seed's new rows go through the same batch writer."""
    from app.core.errors import VerifiedData
    from app.models import Decree, Objective
    from app.schemas.indicators import IndicatorCreate
    from app.services.indicators import NewIndicators

    decree = session.exec(select(Decree).where(Decree.year == YEAR)).one()
    objective = session.exec(select(Objective).where(Objective.decree_id == decree.id)).first()
    new = NewIndicators(session, decree)
    data = IndicatorCreate(
        objective_id=objective.id,
        code="KADIS.1.9",
        name="Persentase PSKS aktif",
        formula="psks_diberdayakan / psks_terdata * 100",
        unit_of_measure="%",
    )
    with pytest.raises(VerifiedData, match="BID_PSM 2025 Q1"):
        new.add(data)
    # An indicator over another unit's variables may still join.
    new.add(data.model_copy(update={"formula": "ppks_rehabilitasi / ppks_terdata * 100"}))


@pytest.mark.usefixtures("verified")
def test_the_seal_check_is_paged_and_each_page_recomputes_only_its_figures(
    client, session, make_key, monkeypatch
):
    """Bounded work per request: a page of the check recomputes the figures of that page and
    no other; the pages together hold every sealed figure once."""
    from app.services import achievements

    auditor = make_key(Role.auditor)
    total = session.exec(
        select(func.count()).select_from(SealedFigure).where(SealedFigure.year == YEAR)
    ).one()
    assert total >= 4
    computed: list[tuple[int, int]] = []
    compute = achievements._computed_rows

    def counted(session, ids, year, quarters, verified_only, **options):
        computed.append((len(ids), len(quarters), options))
        return compute(session, ids, year, quarters, verified_only, **options)

    monkeypatch.setattr(achievements, "_computed_rows", counted)
    seen = []
    for offset in range(total):
        page = client.get(
            f"{API}/seals/check",
            headers=auditor,
            params={"year": YEAR, "limit": 1, "offset": offset},
        ).json()
        assert (page["total"], page["limit"], page["offset"]) == (total, 1, offset)
        assert len(page["items"]) == 1 and page["items"][0]["drifted"] is False
        seen += [(c["indicator_id"], c["year"], c["quarter"]) for c in page["items"]]
    assert len(set(seen)) == len(seen) == total
    assert seen == sorted(seen, key=lambda key: (key[1], key[0], key[2]))
    # One figure recomputed per page of one, never served as remembered.
    assert computed == [(1, 1, {"remembered": False})] * total
    beyond = client.get(
        f"{API}/seals/check", headers=auditor, params={"limit": 1, "offset": total}
    ).json()
    assert beyond["items"] == [] and beyond["total"] == total
    assert_problem(
        client.get(f"{API}/seals/check", headers=auditor, params={"limit": 1001}),
        422,
        "validation_error",
    )


@pytest.mark.usefixtures("verified")
def test_the_whole_check_goes_through_every_page(session, monkeypatch):
    """`iki seals check` (`drift`) pages through every sealed figure and finds a drift on
    any page."""
    from app.services import achievements

    monkeypatch.setattr(achievements, "SEAL_CHECK_PAGE", 1)
    pages = []
    check = achievements.check_seals

    def counted(session, page, **filters):
        pages.append(page.offset)
        return check(session, page, **filters)

    monkeypatch.setattr(achievements, "check_seals", counted)
    total = session.exec(select(func.count()).select_from(SealedFigure)).one()
    session.execute(
        text("UPDATE data_value SET value = 100 WHERE variable_id = :v AND year = :y"),
        {"v": variable(session, "psks_terdata").id, "y": YEAR},
    )
    session.expire_all()
    checked, drifted = achievements.drift(session)
    assert checked == total and pages == list(range(total))
    assert {(d.indicator, d.quarter) for d in drifted} >= {("KADIS.1.1", 1), ("KADIS.1.1", 2)}
    assert all(d.drifted and d.fields for d in drifted)
