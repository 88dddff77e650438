"""The achievements API that e-SAKIP pulls: filters, pagination, ETag/304, CSV, SQL cost."""

import csv
import io
import time

import pytest
from sqlmodel import select

from app.core.db import utcnow
from app.models import Indicator
from app.schemas.achievements import AchievementPublic
from tests.api.helpers import assert_achievements, assert_problem, csv_columns, indicator_id

YEAR = 2025


@pytest.fixture
def reported(client, session, admin, psm, rpjs):
    """KADIS.1.1 and KADIS.1.2 reported for Q1, with annual targets."""
    k11, k12 = indicator_id(session, "KADIS.1.1"), indicator_id(session, "KADIS.1.2")
    for ind, annual in ((k11, 40), (k12, 50)):
        client.put(
            f"/api/v1/indicators/{ind}/targets/{YEAR}", headers=admin, json={"annual": annual}
        )
    client.put(
        f"/api/v1/indicators/{k11}/realizations/{YEAR}/1",
        headers=psm,
        json={"values": {"psks_diberdayakan": 20, "psks_terdata": 100}},
    )
    client.put(
        f"/api/v1/indicators/{k12}/realizations/{YEAR}/1",
        headers=rpjs,
        json={"values": {"ppks_rehabilitasi": 30, "ppks_terdata": 60}},
    )
    return {"psm": psm, "rpjs": rpjs}


def get(client, headers, **params):
    return client.get("/api/v1/achievements", headers=headers, params={"year": YEAR, **params})


def test_all_indicators_of_the_year_in_sk_order(client, reader, reported):
    body = get(client, reader, quarter=1).json()
    assert body["total"] == 39 and len(body["items"]) == 39
    codes = [a["indicator"]["code"] for a in body["items"]]
    assert codes[:3] == ["KADIS.1.1", "KADIS.1.2", "KADIS.1.3"]
    first, second, third = body["items"][:3]
    assert (first["realization"], first["achievement"], first["status"]) == (20.0, 50.0, "ok")
    assert (second["realization"], second["achievement"]) == (50.0, 100.0)
    # KADIS.1.3 shares ppks_terdata with 1.2: reported once, it already counts there.
    assert third["status"] == "partial_data"
    assert third["values"]["ppks_terdata"] == 60.0
    assert third["missing_variables"] == ["ppks_perlindungan_jaminan"]
    assert {a["quarter"] for a in body["items"]} == {1}


def test_quarter_defaults_to_the_annual_view(client, reader, reported):
    item = get(client, reader, indicator="KADIS.1.1").json()["items"][0]
    assert item["quarter"] == 4
    assert item["status"] == "partial_data"  # only Q1 was reported


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"agency": "DINSOSP3A"}, 39),
        ({"agency": "OTHER"}, 0),
        ({"position": "SEKRETARIS"}, 11),
        ({"unit": "BID_PSM"}, 3),
        ({"indicator": "KADIS.1.2"}, 1),
    ],
)
def test_filters(client, reader, params, total):
    assert get(client, reader, **params).json()["total"] == total


def test_pagination(client, reader):
    page = get(client, reader, limit=5, offset=35).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (39, 5, 35, 4)
    assert_problem(get(client, reader, limit=1001), 422, "validation_error")


def test_updated_since(client, session, reader, reported, make_key):
    later = utcnow()
    assert get(client, reader, quarter=1, updated_since=later.isoformat()).json()["total"] == 0
    time.sleep(0.01)
    rpjs = reported["rpjs"]
    k13 = indicator_id(session, "KADIS.1.3")
    client.put(
        f"/api/v1/indicators/{k13}/realizations/{YEAR}/1",
        headers=rpjs,
        json={"values": {"ppks_terdata": 80}},
    )
    changed = get(client, reader, quarter=1, updated_since=later.isoformat()).json()
    # ppks_terdata is shared: both indicators that use it changed.
    assert [a["indicator"]["code"] for a in changed["items"]] == ["KADIS.1.2", "KADIS.1.3"]
    assert all(a["updated_at"] > later.isoformat() for a in changed["items"])


def test_etag_and_304(client, session, reader, reported, admin):
    first = get(client, reader, quarter=1, limit=3)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = client.get(
        "/api/v1/achievements",
        headers={**reader, "If-None-Match": etag},
        params={"year": YEAR, "quarter": 1, "limit": 3},
    )
    assert again.status_code == 304 and again.content == b""
    # A target change behind the page changes the ETag.
    k11 = indicator_id(session, "KADIS.1.1")
    client.put(f"/api/v1/indicators/{k11}/targets/{YEAR}", headers=admin, json={"annual": 25})
    changed = client.get(
        "/api/v1/achievements",
        headers={**reader, "If-None-Match": etag},
        params={"year": YEAR, "quarter": 1, "limit": 3},
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["items"][0]["achievement"] == 80.0


def test_csv(client, reader, reported):
    response = client.get(
        "/api/v1/achievements",
        headers={**reader, "Accept": "text/csv"},
        params={"year": YEAR, "quarter": 1},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 39
    assert rows[0]["indicator_code"] == "KADIS.1.1"
    assert rows[0]["realization"] == "20" and rows[0]["achievement"] == "50"
    assert rows[0]["values"] == "psks_diberdayakan=20;psks_terdata=100"
    assert rows[0]["quarter_values"] == rows[0]["values"]
    assert rows[0]["position_title"].startswith("Kepala Dinas")
    assert rows[0]["rating_color"] == "#d73027"
    assert rows[2]["missing_variables"] == "ppks_perlindungan_jaminan"
    assert rows[2]["values"] == "ppks_perlindungan_jaminan=;ppks_terdata=60"
    assert rows[0]["rating_code"] == "sangat_rendah"
    json_etag = get(client, reader, quarter=1).headers["etag"]
    assert response.headers["etag"] != json_etag


# The CSV's columns as published, in their order (later fields may come in between).
PUBLISHED_CSV = [
    "agency",
    "indicator_id",
    "indicator_code",
    "indicator_name",
    "position_code",
    "position_title",
    "year",
    "quarter",
    "unit_of_measure",
    "polarity",
    "decimals",
    "values",
    "quarter_values",
    "quarter_realization",
    "realization",
    "target",
    "achievement",
    "rating_code",
    "rating_label",
    "rating_color",
    "status",
    "reason",
    "missing_variables",
    "verified",
    "verification",
    "unverified",
    "updated_at",
]
# The indicator's attributes outside a row's identity are named without their prefix.
UNPREFIXED = {"indicator_unit_of_measure", "indicator_polarity", "indicator_decimals"}


def test_a_pull_answers_the_schema_exactly(client, session, reader, reported):
    broken = session.exec(select(Indicator).where(Indicator.code == "KADIS.2.1")).one()
    broken.formula = "gone_variable * 100"  # a definition that cannot be computed
    session.add(broken)
    session.flush()
    items = []
    for verified_only in (False, True):
        for quarter in (1, 4):
            page = get(client, reader, quarter=quarter, verified_only=verified_only, limit=100)
            items += page.json()["items"]
    statuses = {(i["status"], i["reason"]) for i in items}
    assert {("ok", None), ("undefined", "invalid_definition")} <= statuses
    assert_achievements(items)
    indicator = items[0]["indicator"]["id"]
    per_indicator = client.get(
        f"/api/v1/indicators/{indicator}/achievements", headers=reader, params={"year": YEAR}
    )
    assert_achievements(per_indicator.json())


def test_csv_columns_are_the_schema_flattened(client, reader, reported):
    answer = get(client, reader, quarter=1, format="csv")
    header, *rows = list(csv.reader(io.StringIO(answer.text)))
    flattened = [
        c.removeprefix("indicator_") if c in UNPREFIXED else c
        for c in csv_columns(AchievementPublic)
    ]
    assert sorted(header) == sorted(flattened) and len(header) == len(set(header))
    assert [c for c in header if c in PUBLISHED_CSV] == PUBLISHED_CSV
    assert len(rows) == 39 and {len(row) for row in rows} == {len(header)}


@pytest.mark.usefixtures("forgetful")
def test_a_page_costs_a_fixed_number_of_statements(client, reader, reported, count_statements):
    get(client, reader, quarter=2, limit=1)  # warm caches
    count_statements.statements.clear()
    get(client, reader, quarter=2, limit=1)
    small = count_statements.count
    count_statements.statements.clear()
    body = get(client, reader, quarter=2, limit=1000).json()
    assert len(body["items"]) == 39
    # 14 for the figures, 7 for their quality (the units' quarters: their states, then the
    # checks' units, variables, indicators, rules, values and targets).
    assert count_statements.count == small <= 21


def test_a_remembered_page_reads_only_its_definitions(client, reader, reported, count_statements):
    """Figures computed at the current revision of their agency's data are served as
    remembered: the second read of a page reads neither facts nor findings, and answers the
    same."""
    first = get(client, reader, quarter=2, limit=1000).json()
    count_statements.statements.clear()
    again = get(client, reader, quarter=2, limit=1000).json()
    assert again["items"] == first["items"] and len(first["items"]) == 39
    # The key, the cursor, the count, the ids, the definitions and their agencies.
    assert count_statements.count <= 8, count_statements.statements


def test_needs_a_key_and_a_year(client, reader):
    assert_problem(client.get("/api/v1/achievements?year=2025"), 401, "unauthenticated")
    body = assert_problem(
        client.get("/api/v1/achievements", headers=reader), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "query.year"
    assert_problem(get(client, reader, quarter=5), 422, "validation_error")


def test_verified_only_uses_no_unverified_data(client, reader, reported):
    item = get(client, reader, quarter=1, verified_only="true").json()["items"][0]
    assert item["verified"] is False and item["verification"] == "open"
    assert (item["status"], item["reason"]) == ("partial_data", "not_verified")
    assert item["realization"] is None and item["achievement"] is None
    assert set(item["values"].values()) == {None}
    assert item["unverified"] == ["BID_PSM Q1 (open)"]
    assert item["missing_variables"] == ["psks_diberdayakan", "psks_terdata"]
    everything = get(client, reader, quarter=1).json()["items"][0]
    assert everything["status"] == "ok" and everything["unverified"] == []


def test_rating_scales_and_agency_override(client, session, reader, admin, reported):
    scales = client.get("/api/v1/rating-scales", headers=reader).json()
    assert [(s["code"], s["is_default"]) for s in scales] == [("PERMENDAGRI_86_2017", True)]
    custom = {
        "name": "Skala 3 tingkat",
        "bands": [
            {"min": None, "code": "belum", "label": "Belum tercapai"},
            {"min": 100, "code": "tercapai", "label": "Tercapai", "color": "#1a9850"},
            {"min": 45, "code": "hampir", "label": "Hampir tercapai"},
        ],
    }
    created = client.put("/api/v1/rating-scales/TIGA", headers=admin, json=custom)
    assert created.status_code == 200, created.text
    assert [b["code"] for b in created.json()["bands"]] == ["tercapai", "hampir", "belum"]
    agency_id = client.get("/api/v1/agencies", headers=reader).json()["items"][0]["id"]
    body = client.put(
        f"/api/v1/agencies/{agency_id}/rating-scale", headers=admin, json={"code": "TIGA"}
    ).json()
    assert body["agencies"] == ["DINSOSP3A"]
    item = get(client, reader, quarter=1, indicator="KADIS.1.1").json()["items"][0]
    assert item["achievement"] == 50.0
    assert item["rating"] == {"code": "hampir", "label": "Hampir tercapai", "color": None}
    client.put(f"/api/v1/agencies/{agency_id}/rating-scale", headers=admin, json={"code": None})
    item = get(client, reader, quarter=1, indicator="KADIS.1.1").json()["items"][0]
    assert item["rating"]["code"] == "sangat_rendah"


def test_rating_scale_validation(client, admin, reader):
    two_catch_alls = {
        "name": "x",
        "bands": [
            {"min": None, "code": "a", "label": "A"},
            {"min": None, "code": "b", "label": "B"},
        ],
    }
    assert_problem(
        client.put("/api/v1/rating-scales/X", headers=admin, json=two_catch_alls),
        422,
        "validation_error",
    )
    ok = {"name": "x", "bands": [{"min": None, "code": "a", "label": "A"}]}
    assert_problem(client.put("/api/v1/rating-scales/X", headers=reader, json=ok), 403, "forbidden")
    assert_problem(
        client.put("/api/v1/rating-scales/lower", headers=admin, json=ok), 422, "validation_error"
    )
    assert_problem(client.get("/api/v1/rating-scales/NOPE", headers=reader), 404, "not_found")
    demote = {**ok, "is_default": False}
    body = assert_problem(
        client.put("/api/v1/rating-scales/PERMENDAGRI_86_2017", headers=admin, json=demote),
        422,
        "invalid_input",
    )
    assert body["field"] == "is_default"


def test_updated_since_sees_target_changes_and_removals(client, session, reader, admin, reported):
    k11 = indicator_id(session, "KADIS.1.1")
    client.put(
        f"/api/v1/indicators/{k11}/targets/{YEAR}",
        headers=admin,
        json={"annual": 40, "quarters": {"1": 10}},
    )
    later = utcnow().isoformat()
    time.sleep(0.01)
    assert get(client, reader, quarter=1, updated_since=later).json()["total"] == 0
    client.put(f"/api/v1/indicators/{k11}/targets/{YEAR}", headers=admin, json={"annual": 40})
    changed = get(client, reader, quarter=1, updated_since=later).json()["items"]
    assert [a["indicator"]["code"] for a in changed] == ["KADIS.1.1"]
    assert changed[0]["target"] == 40.0


def test_updated_since_sees_variable_and_rating_scale_changes(
    client, session, reader, admin, reported
):
    later = utcnow().isoformat()
    time.sleep(0.01)
    variable_id = client.get(
        "/api/v1/variables", headers=reader, params={"q": "psks_terdata"}
    ).json()["items"][0]["id"]
    patched = client.patch(
        f"/api/v1/variables/{variable_id}", headers=admin, json={"aggregation": "max"}
    )
    assert patched.status_code == 200, patched.text
    changed = get(client, reader, quarter=1, updated_since=later).json()["items"]
    assert [a["indicator"]["code"] for a in changed] == ["KADIS.1.1", "KADIS.2.1"]
    assert all(a["updated_at"] > later for a in changed)

    later = utcnow().isoformat()
    time.sleep(0.01)
    bands = [{"min": None, "code": "semua", "label": "Semua"}]
    client.put("/api/v1/rating-scales/DUA", headers=admin, json={"name": "x", "bands": bands})
    assert get(client, reader, quarter=1, updated_since=later).json()["total"] == 0  # unused
    client.put(
        "/api/v1/rating-scales/DUA",
        headers=admin,
        json={"name": "x", "bands": bands, "is_default": True},
    )
    changed = get(client, reader, quarter=1, updated_since=later).json()
    assert changed["total"] == 39
    assert changed["items"][0]["rating"]["code"] == "semua"


def test_etag_changes_with_data_and_definitions(client, session, reader, admin, reported):
    def etag():
        return get(client, reader, quarter=1, limit=2).headers["etag"]

    first = etag()
    assert etag() == first
    k11 = indicator_id(session, "KADIS.1.1")
    client.put(
        f"/api/v1/indicators/{k11}/realizations/{YEAR}/1",
        headers=reported["psm"],
        json={"values": {"psks_diberdayakan": 21}},
    )
    second = etag()
    assert second != first
    client.patch(f"/api/v1/indicators/{k11}", headers=admin, json={"name": "Nama baru"})
    assert etag() != second


def test_updated_since_sees_position_changes(client, session, reader, admin, reported):
    later = utcnow().isoformat()
    time.sleep(0.01)
    positions = client.get("/api/v1/positions", headers=reader).json()["items"]
    kabid_pp = next(p for p in positions if p["code"] == "KABID_PP")
    patched = client.patch(
        f"/api/v1/positions/{kabid_pp['id']}", headers=admin, json={"title": "Kabid PP"}
    )
    assert patched.status_code == 200, patched.text
    changed = get(client, reader, quarter=1, updated_since=later).json()["items"]
    assert {a["indicator"]["code"] for a in changed} == {
        "KABID_PP.1.1",
        "KABID_PP.1.2",
        "KABID_PP.1.3",
        "KABID_PP.2.1",
    }
    assert all(a["position"]["title"] == "Kabid PP" for a in changed)
