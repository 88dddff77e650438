"""Realisasi in, capaian out, for one indicator: arithmetic, polarity, statuses, validation."""

import pytest
from sqlmodel import select

from app.models import DataValue, Indicator, Polarity, Role
from tests.api.helpers import assert_problem, indicator_id

YEAR = 2025


def put(client, headers, ind, quarter, values, **extra):
    return client.put(
        f"/api/v1/indicators/{ind}/realizations/{YEAR}/{quarter}",
        headers=headers,
        json={"values": values, **extra},
    )


def set_targets(client, admin, ind, annual, quarters=None):
    response = client.put(
        f"/api/v1/indicators/{ind}/targets/{YEAR}",
        headers=admin,
        json={"annual": annual, "quarters": quarters or {}},
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored(session):
    return session.exec(select(DataValue)).all()


def test_ratio_of_a_flow_over_a_stock(client, session, psm, admin):
    """KADIS.1.1: PSKS empowered (sum over quarters) over PSKS registered (last)."""
    ind = indicator_id(session, "KADIS.1.1")
    set_targets(client, admin, ind, 40, {"2": 30})
    r1 = put(client, psm, ind, 1, {"psks_diberdayakan": 30, "psks_terdata": 200})
    assert r1.status_code == 200, r1.text
    q1 = r1.json()
    assert q1["realization"] == 15.0  # 30 / 200 * 100
    assert q1["target"] == 40.0  # no Q1 target: the annual one
    assert q1["achievement"] == 37.5
    assert q1["rating"]["code"] == "sangat_rendah"
    r2 = put(client, psm, ind, 2, {"psks_diberdayakan": 50, "psks_terdata": 250}, note="TW II")
    q2 = r2.json()
    assert q2["values"] == {"psks_diberdayakan": 80.0, "psks_terdata": 250.0}
    assert q2["quarter_values"] == {"psks_diberdayakan": 50.0, "psks_terdata": 250.0}
    assert q2["quarter_realization"] == 20.0  # 50 / 250 * 100
    assert q2["realization"] == 32.0  # (30 + 50) / 250 * 100
    assert q2["target"] == 30.0  # the Q2 target
    assert q2["achievement"] == pytest.approx(106.666666667)
    assert q2["rating"] == {"code": "sangat_tinggi", "label": "Sangat Tinggi", "color": "#1a9850"}
    assert q2["status"] == "ok" and q2["reason"] is None and q2["missing_variables"] == []
    assert q2["indicator"]["code"] == "KADIS.1.1"
    assert q2["position"]["code"] == "KADIS"


def test_ratio_of_sums_not_average_of_quarterly_percentages(client, session, rpjs, admin):
    """KADIS.1.4: PPKS handled in disasters over PPKS affected, both flows."""
    ind = indicator_id(session, "KADIS.1.4")
    set_targets(client, admin, ind, 100)
    put(client, rpjs, ind, 1, {"ppks_penanganan_bencana": 10, "ppks_terdampak_bencana": 20})
    q2 = put(client, rpjs, ind, 2, {"ppks_penanganan_bencana": 90, "ppks_terdampak_bencana": 100})
    body = q2.json()
    assert body["quarter_realization"] == 90.0
    assert body["realization"] == pytest.approx(83.3333333333)  # 100 / 120, not (50 + 90) / 2
    assert body["rating"]["code"] == "tinggi"


def test_a_sum_count_and_a_last_stock(client, session, make_key, admin):
    pp = make_key(Role.operator, units=("BID_PP",))
    pppha = make_key(Role.operator, units=("BID_PPPHA",))
    reports = indicator_id(session, "KABID_PP.1.2")  # laporan: a flow
    set_targets(client, admin, reports, 12)
    for quarter, count in ((1, 3), (2, 2), (3, 4)):
        body = put(client, pp, reports, quarter, {"laporan_advokasi_perempuan": count}).json()
    assert body["realization"] == 9.0
    assert body["achievement"] == 75.0
    assert body["rating"]["code"] == "sedang"
    staff = indicator_id(session, "KABID_PPPHA.1.2")  # certified staff: a stock
    set_targets(client, admin, staff, 10)
    put(client, pppha, staff, 1, {"sdm_layanan_perempuan_tersertifikasi": 6})
    body = put(client, pppha, staff, 2, {"sdm_layanan_perempuan_tersertifikasi": 8}).json()
    assert body["realization"] == 8.0
    assert body["achievement"] == 80.0


def test_lower_is_better(client, session, psm, admin):
    indicator = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.1")).one()
    indicator.polarity = Polarity.lower_is_better
    session.add(indicator)
    session.flush()
    set_targets(client, admin, indicator.id, 40)
    body = put(client, psm, indicator.id, 1, {"psks_diberdayakan": 32, "psks_terdata": 100}).json()
    assert body["achievement"] == 120.0  # (2 x 40 - 32) / 40 x 100
    body = put(client, psm, indicator.id, 1, {"psks_diberdayakan": 100, "psks_terdata": 100}).json()
    assert body["achievement"] == 0.0  # floored
    assert body["indicator"]["polarity"] == "lower_is_better"


def test_statuses(client, session, psm, admin):
    ind = indicator_id(session, "KADIS.1.1")
    url = f"/api/v1/indicators/{ind}/realizations/{YEAR}/1"
    assert client.get(url, headers=psm).json()["status"] == "no_data"
    body = put(client, psm, ind, 1, {"psks_diberdayakan": 5}).json()
    assert (body["status"], body["missing_variables"]) == ("partial_data", ["psks_terdata"])
    body = put(client, psm, ind, 1, {"psks_terdata": 0}).json()
    assert (body["status"], body["reason"]) == ("undefined", "division_by_zero")
    body = put(client, psm, ind, 1, {"psks_terdata": 10}).json()
    assert (body["status"], body["realization"]) == ("no_target", 50.0)
    set_targets(client, admin, ind, 50)
    body = client.get(url, headers=psm).json()
    assert (body["status"], body["achievement"]) == ("ok", 100.0)


def test_partial_write_keeps_other_values(client, session, psm):
    ind = indicator_id(session, "KADIS.1.1")
    put(client, psm, ind, 1, {"psks_diberdayakan": 5, "psks_terdata": 50}, note="a", evidence="b")
    body = put(client, psm, ind, 1, {"psks_diberdayakan": 10}).json()
    assert body["values"] == {"psks_diberdayakan": 10.0, "psks_terdata": 50.0}
    rows = {r.value: r for r in stored(session)}
    assert rows[10.0].version == 2 and rows[50.0].version == 1
    assert rows[50.0].note == "a" and rows[50.0].evidence == "b"
    assert rows[10.0].note == "a" and rows[10.0].evidence == "b"  # not sent: kept
    put(client, psm, ind, 1, {"psks_diberdayakan": 10}, note=None)
    session.expire_all()
    rows = {r.value: r for r in stored(session)}
    assert rows[10.0].note is None and rows[10.0].evidence == "b"  # null: cleared
    assert rows[10.0].updated_by == "psm-operator"  # the key that wrote it


@pytest.mark.parametrize(
    ("values", "field", "kind"),
    [
        ({"psks_terdata": "12"}, "body.values.psks_terdata", "value_error"),
        ({"psks_terdata": True}, "body.values.psks_terdata", "value_error"),
        ({"psks_terdata": None}, "body.values.psks_terdata", "value_error"),
        ({"psks_terdata": 12.5}, "values.psks_terdata", "not_an_integer"),
        ({"psks_terdata": -1}, "values.psks_terdata", "out_of_range"),
        ({"psks_terdata": 1e16}, "body.values.psks_terdata", "value_error"),
        ({"nonexistent": 1}, "values.nonexistent", "unknown_variable"),
        ({"ppks_terdata": 1}, "values.ppks_terdata", "unknown_variable"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(client, session, psm, values, field, kind):
    ind = indicator_id(session, "KADIS.1.1")
    response = put(client, psm, ind, 1, {"psks_diberdayakan": 3, **values})
    code = "validation_error" if field.startswith("body.") else "invalid_input"
    body = assert_problem(response, 422, code)
    assert any(e["field"] == field and e["type"] == kind for e in body["errors"]), body
    assert stored(session) == []


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e309"])
def test_non_finite_json_numbers_are_refused(client, session, psm, token):
    ind = indicator_id(session, "KADIS.1.1")
    response = client.put(
        f"/api/v1/indicators/{ind}/realizations/{YEAR}/1",
        headers={**psm, "Content-Type": "application/json"},
        content=f'{{"values": {{"psks_terdata": {token}}}}}',
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body.values.psks_terdata"
    assert "finite" in body["errors"][0]["message"]
    assert stored(session) == []


@pytest.mark.parametrize(
    ("path", "field"),
    [("2025/5", "path.quarter"), ("2025/0", "path.quarter"), ("1999/1", "path.year")],
)
def test_bad_periods_are_refused(client, session, psm, path, field):
    ind = indicator_id(session, "KADIS.1.1")
    response = client.put(
        f"/api/v1/indicators/{ind}/realizations/{path}",
        headers=psm,
        json={"values": {"psks_terdata": 1}},
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == field
    assert stored(session) == []


def test_year_outside_the_decree_is_refused(client, session, psm):
    ind = indicator_id(session, "KADIS.1.1")
    response = client.put(
        f"/api/v1/indicators/{ind}/realizations/2026/1",
        headers=psm,
        json={"values": {"psks_terdata": 1}},
    )
    body = assert_problem(response, 404, "year_not_in_decree")
    assert body["field"] == "year" and body["years"] == [2025]
    assert stored(session) == []


def test_operator_scope_and_roles(client, session, psm, rpjs, reader):
    ind = indicator_id(session, "KADIS.1.1")  # owned by BID_PSM
    body = assert_problem(put(client, rpjs, ind, 1, {"psks_terdata": 1}), 403, "forbidden")
    assert "psks_terdata" in body["detail"]
    assert_problem(put(client, reader, ind, 1, {"psks_terdata": 1}), 403, "forbidden")
    assert stored(session) == []
    assert put(client, psm, ind, 1, {"psks_terdata": 1}).status_code == 200


def test_if_match(client, session, psm):
    ind = indicator_id(session, "KADIS.1.1")
    url = f"/api/v1/indicators/{ind}/realizations/{YEAR}/1"
    empty_etag = client.get(url, headers=psm).headers["etag"]
    first = put(
        client,
        psm,
        ind,
        1,
        {"psks_terdata": 10},
    )
    etag = first.headers["etag"]
    assert etag != empty_etag
    assert client.get(url, headers=psm).headers["etag"] == etag
    # A writer that read before the first write is refused, and nothing changes.
    stale = client.put(
        url, headers={**psm, "If-Match": empty_etag}, json={"values": {"psks_terdata": 99}}
    )
    body = assert_problem(stale, 412, "precondition_failed")
    assert body["current_etag"] == etag
    assert [r.value for r in stored(session)] == [10.0]
    fresh = client.put(
        url, headers={**psm, "If-Match": etag}, json={"values": {"psks_terdata": 11}}
    )
    assert fresh.status_code == 200
    assert fresh.headers["etag"] not in {etag, empty_etag}


def test_targets_roundtrip_and_admin_only(client, session, admin, psm):
    ind = indicator_id(session, "KADIS.1.1")
    body = set_targets(client, admin, ind, 80, {"1": 20, "3": 60})
    assert body["annual"] == 80.0 and body["quarters"] == {"1": 20.0, "3": 60.0}
    assert body["updated_by"].startswith("admin")
    again = client.get(f"/api/v1/indicators/{ind}/targets/{YEAR}", headers=psm).json()
    assert again == body
    body = set_targets(client, admin, ind, 90)  # replaces: quarter targets gone
    assert body["quarters"] == {}
    denied = client.put(f"/api/v1/indicators/{ind}/targets/{YEAR}", headers=psm, json={"annual": 1})
    assert_problem(denied, 403, "forbidden")
    wrong_year = client.put(
        f"/api/v1/indicators/{ind}/targets/2030", headers=admin, json={"annual": 1}
    )
    assert_problem(wrong_year, 404, "year_not_in_decree")
    bad = client.put(
        f"/api/v1/indicators/{ind}/targets/{YEAR}",
        headers=admin,
        json={"annual": 1, "quarters": {"5": 1}},
    )
    assert_problem(bad, 422, "validation_error")


def test_four_quarters_of_an_indicator(client, session, psm, admin):
    ind = indicator_id(session, "KADIS.1.1")
    set_targets(client, admin, ind, 40)
    put(client, psm, ind, 1, {"psks_diberdayakan": 10, "psks_terdata": 100})
    put(client, psm, ind, 2, {"psks_diberdayakan": 10, "psks_terdata": 100})
    body = client.get(f"/api/v1/indicators/{ind}/achievements?year={YEAR}", headers=psm).json()
    assert [a["quarter"] for a in body] == [1, 2, 3, 4]
    assert [a["realization"] for a in body] == [10.0, 20.0, None, None]
    assert [a["status"] for a in body] == ["ok", "ok", "partial_data", "partial_data"]
    assert body[2]["missing_variables"] == ["psks_diberdayakan", "psks_terdata"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/indicators/9223372036854775808",
        "/api/v1/indicators/2147483648/achievements?year=2025",
        "/api/v1/indicators/0/targets/2025",
        "/api/v1/indicators?offset=9223372036854775808",
        "/api/v1/agencies/-1",
    ],
)
def test_ids_beyond_the_database_range_are_refused(client, reader, path):
    assert_problem(client.get(path, headers=reader), 422, "validation_error")


def test_negative_targets_are_refused(client, session, admin):
    ind = indicator_id(session, "KADIS.1.1")
    response = client.put(
        f"/api/v1/indicators/{ind}/targets/{YEAR}", headers=admin, json={"annual": -5}
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body.annual"


@pytest.mark.parametrize("link", ["javascript:alert(1)", " JavaScript:x", "data:text/html,x"])
def test_evidence_links_must_be_web_links(client, session, psm, link):
    ind = indicator_id(session, "KADIS.1.1")
    response = put(client, psm, ind, 1, {"psks_terdata": 1}, evidence=link)
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body.evidence"
    assert stored(session) == []
    assert (
        put(client, psm, ind, 1, {"psks_terdata": 1}, evidence="https://x.go.id/b.pdf").status_code
        == 200
    )


def test_a_put_costs_a_fixed_number_of_statements(client, session, psm, count_statements):
    """A realization PUT reads only its indicator, its variables' values for the quarter
    (once: for If-Match, the write and the new ETag) and what its achievement needs, however
    many variables its agency has and whatever other agencies hold."""
    kadis_1_1 = indicator_id(session, "KADIS.1.1")
    values = {"psks_diberdayakan": 30, "psks_terdata": 120}
    assert put(client, psm, kadis_1_1, 1, values).status_code == 200  # created
    count_statements.statements.clear()
    assert put(client, psm, kadis_1_1, 1, {"psks_diberdayakan": 31}).status_code == 200
    selects = [s for s in count_statements.statements if s.lstrip().upper().startswith("SELECT")]
    reads_of_values = [s for s in selects if s.lstrip().startswith("SELECT data_value.id")]
    assert len(reads_of_values) == 1, reads_of_values
    # The key and its units; the indicator; its variables; (on PostgreSQL, the agency's
    # lock); their values; the decree years and locked periods; then the achievement:
    # definition and its agency, variables, values, periods, targets and rating scale; its
    # quality: the units' quarters, and the checks' units, variables, indicators, rules,
    # values, targets.
    assert len(selects) <= 22, selects
    work = [s for s in count_statements.statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    # And the value's UPDATE, its audit event and the agency's new revision.
    assert len(work) <= 25, work
