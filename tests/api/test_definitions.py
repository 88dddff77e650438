"""The read API of the definitions, through HTTP."""

import pytest
import yaml

from tests.conftest import SEED_DIR


def _get(client, headers, path, **params):
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _envelope(body, total):
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == total
    return body["items"]


def test_agencies_and_units(client, reader):
    agencies = _envelope(_get(client, reader, "/api/v1/agencies"), 1)
    assert agencies[0]["code"] == "DINSOSP3A"
    units = _envelope(_get(client, reader, "/api/v1/units", agency="DINSOSP3A"), 6)
    assert {u["code"] for u in units} >= {"SEKRETARIAT", "BID_PSM", "UPTD_PPA"}
    one = _get(client, reader, f"/api/v1/units/{units[0]['id']}")
    assert one["agency"]["code"] == "DINSOSP3A"
    _envelope(_get(client, reader, "/api/v1/units", agency="NOPE"), 0)


def test_positions_show_duties_functions_activities(client, reader):
    positions = _envelope(_get(client, reader, "/api/v1/positions"), 5)
    by_code = {p["code"]: p for p in positions}
    kadis = by_code["KADIS"]
    assert kadis["echelon"] == "II.b"
    assert kadis["unit"] is None and kadis["superior"] is None
    assert len(kadis["duties"]) == 5
    assert kadis["duties"][0].startswith("Perumusan kebijakan Daerah")
    sekretaris = by_code["SEKRETARIS"]
    assert sekretaris["superior"]["code"] == "KADIS"
    assert sekretaris["unit"]["code"] == "SEKRETARIAT"
    assert len(sekretaris["functions"]) == 9
    assert sekretaris["activities"] == []
    assert len(by_code["KABID_RPJS"]["activities"]) == 8


def test_position_iki_document(client, reader):
    positions = _envelope(_get(client, reader, "/api/v1/positions"), 5)
    kadis = next(p for p in positions if p["code"] == "KADIS")
    doc = _get(client, reader, f"/api/v1/positions/{kadis['id']}/iki", year=2025, format="json")
    assert doc["decree"]["number"] == "000.8.6.3/06/425.109/2025"
    assert [o["number"] for o in doc["objectives"]] == [1, 2, 3, 4, 5]
    assert [len(o["indicators"]) for o in doc["objectives"]] == [5, 1, 2, 3, 1]
    first = doc["objectives"][0]["indicators"][0]
    assert first["code"] == "KADIS.1.1"
    assert first["data_source"] == "Bidang Pemberdayaan Sosial dan Masyarakat"
    missing = client.get(f"/api/v1/positions/{kadis['id']}/iki?year=2031", headers=reader)
    assert missing.status_code == 404


def test_decrees(client, reader):
    decrees = _envelope(_get(client, reader, "/api/v1/decrees", year=2025), 1)
    assert decrees[0]["signatory"] == "Dr. REY SUWIGTYO, S.Sos., M.Si."
    assert decrees[0]["agency"]["code"] == "DINSOSP3A"


def test_indicator_shape(client, reader):
    items = _envelope(_get(client, reader, "/api/v1/indicators", q="KADIS.1.1"), 1)
    ind = items[0]
    assert ind["code"] == "KADIS.1.1"
    assert ind["name"] == (
        "Persentase Potensi Sumber Kesejahteraan Sosial yang mendapatkan Pemberdayaan Sosial"
    )
    assert ind["unit_of_measure"] == "%"
    assert ind["polarity"] == "higher_is_better"
    assert ind["objective"]["number"] == 1
    assert ind["position"]["code"] == "KADIS"
    assert ind["decree"]["year"] == 2025
    assert ind["source_units"][0]["code"] == "BID_PSM"
    assert len(ind["variables"]) == 2
    for variable in ind["variables"]:
        assert set(variable) >= {"code", "label", "unit_of_measure", "value_type", "aggregation"}
        assert variable["owner_unit"]["code"] == "BID_PSM"
        assert variable["owner_unit"]["name"] == "Bidang Pemberdayaan Sosial dan Masyarakat"
    assert [v["code"] for v in ind["variables"]] == [
        c
        for c in ind["formula"].replace("(", " ").replace(")", " ").split()
        if c in {v["code"] for v in ind["variables"]}
    ]
    labels = [v["label"] for v in ind["variables"]]
    assert all(label in ind["formula_description"] for label in labels)
    assert "\\frac" in ind["formula_latex"]
    again = _get(client, reader, f"/api/v1/indicators/{ind['id']}")
    assert again == ind


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({}, 39),
        ({"agency": "DINSOSP3A", "year": 2025}, 39),
        ({"year": 2024}, 0),
        ({"position": "KADIS"}, 12),
        ({"position": "SEKRETARIS"}, 11),
        ({"position": "KABID_PP"}, 4),
        ({"unit": "SEKRETARIAT"}, 12),
        ({"q": "bencana"}, 2),
        ({"code": "KADIS.1.1"}, 1),
        ({"code": "KADIS.9.9"}, 0),
    ],
)
def test_indicator_filters(client, reader, params, total):
    _envelope(_get(client, reader, "/api/v1/indicators", **params), total)


def test_indicator_pagination(client, reader):
    page1 = _get(client, reader, "/api/v1/indicators", limit=10, offset=0)
    page4 = _get(client, reader, "/api/v1/indicators", limit=10, offset=30)
    assert (page1["limit"], page1["offset"], page1["total"]) == (10, 0, 39)
    assert len(page1["items"]) == 10 and len(page4["items"]) == 9
    everything = _get(client, reader, "/api/v1/indicators", limit=1000)["items"]
    assert [i["code"] for i in everything[:10]] == [i["code"] for i in page1["items"]]
    assert everything[0]["code"] == "KADIS.1.1"


def test_variables(client, reader):
    body = _get(client, reader, "/api/v1/variables", agency="DINSOSP3A", limit=1000)
    assert body["total"] == len(body["items"]) > 0
    ppks = next(v for v in body["items"] if v["code"] == "ppks_terdata")
    assert ppks["aggregation"] == "last"
    assert ppks["value_type"] == "integer"
    assert ppks["owner_unit"]["code"] == "BID_RPJS"
    one = _get(client, reader, f"/api/v1/variables/{ppks['id']}")
    assert one == ppks


def test_indicators_answer_the_inferred_cascade_links(client, reader):
    """Every seeded link marked `parent_inferred` is answered as such (the view is the row's)."""
    seeded = yaml.safe_load(
        (SEED_DIR / "dinsosp3a-probolinggo" / "decree-2025.yaml").read_text(encoding="utf-8")
    )
    inferred = {
        indicator["code"]
        for objective in seeded["objectives"]
        for indicator in objective["indicators"]
        if indicator.get("parent_inferred")
    }
    assert len(inferred) == 26
    items = _get(client, reader, "/api/v1/indicators", limit=1000)["items"]
    assert {i["code"] for i in items if i["parent_inferred"]} == inferred
    assert all(i["parent"] is not None for i in items if i["parent_inferred"])
