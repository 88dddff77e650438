"""Targets of many indicators at once: the same rules as the PUT of one indicator, all or
nothing, in a fixed number of statements."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from app.models import AuditEvent, Indicator, Role
from app.schemas.targets import MAX_INDICATORS
from tests.api.helpers import assert_problem, indicator_id, request_id

API = "/api/v1"
YEAR = 2025
BULK = f"{API}/targets/{YEAR}"


@pytest.fixture
def indicators(session):
    """The seeded SK's indicators, as (id, code), in code order."""
    return list(session.exec(select(Indicator.id, Indicator.code).order_by(Indicator.code)))


def targets_of(client, headers, ind, year=YEAR):
    response = client.get(f"{API}/indicators/{ind}/targets/{year}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def target_events(session):
    return session.exec(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "target")
    ).one()


def verify_q1_of_psm(client, psm, verifier, kadis_1_1):
    """Data of KADIS.1.1 (BID_PSM) for Q1, submitted and verified."""
    written = client.put(
        f"{API}/indicators/{kadis_1_1}/realizations/{YEAR}/1",
        headers=psm,
        json={"values": {"psks_diberdayakan": 3, "psks_terdata": 9}},
    )
    assert written.status_code == 200, written.text
    for headers, step in ((psm, "submit"), (verifier, "verify")):
        done = client.post(f"{API}/periods/{YEAR}/1/units/BID_PSM/{step}", headers=headers)
        assert done.status_code == 200, done.text


def test_sets_the_targets_of_every_indicator(client, admin, reader, indicators):
    # By id, by code with the agency, and by code alone (the service holds one agency).
    items = []
    for n, (ident, code) in enumerate(indicators):
        named = [{"indicator_id": ident}, {"indicator": code, "agency": "DINSOSP3A"}][n % 2]
        if n % 3 == 0:
            named = {"indicator": code}
        quarters = {str(q): n + q * 10 for q in (1, 2, 3, 4)}
        items.append({**named, "annual": n + 40, "quarters": quarters})
    response = client.put(
        BULK, headers={**admin, "X-Request-ID": request_id("pk-2025")}, json=items
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["removed"], body["unchanged"]) == (
        5 * len(indicators),
        0,
        0,
        0,
    )
    assert [i["indicator_id"] for i in body["items"]] == [ident for ident, _ in indicators]
    for n, (ident, _) in enumerate(indicators):
        got = targets_of(client, reader, ident)
        assert got == body["items"][n]
        assert got["annual"] == n + 40
        assert got["quarters"] == {str(q): n + q * 10 for q in (1, 2, 3, 4)}
    # The ORM's audit hook recorded every new target under the request.
    audit = client.get(
        f"{API}/audit",
        headers=admin,
        params={"request_id": request_id("pk-2025"), "entity": "target", "limit": 1000},
    ).json()
    assert audit["total"] == 5 * len(indicators)
    assert {e["action"] for e in audit["items"]} == {"create"}


def test_replaces_what_each_item_names(client, admin, reader, session):
    k11, k12 = indicator_id(session, "KADIS.1.1"), indicator_id(session, "KADIS.1.2")
    first = [
        {"indicator_id": k11, "annual": 80, "quarters": {"1": 20, "2": 40, "3": 60, "4": 80}},
        {"indicator_id": k12, "annual": 10, "quarters": {}},
    ]
    assert client.put(BULK, headers=admin, json=first).status_code == 200
    again = [
        {"indicator_id": k11, "annual": 80, "quarters": {"2": 45}},
        {"indicator_id": k12, "annual": None, "quarters": {"4": 12}},
    ]
    body = client.put(BULK, headers=admin, json=again).json()
    # k11: annual kept, Q2 changed, Q1, Q3, Q4 removed; k12: annual removed, Q4 new.
    assert (body["created"], body["updated"], body["removed"], body["unchanged"]) == (1, 1, 4, 1)
    assert targets_of(client, reader, k11)["quarters"] == {"2": 45.0}
    assert targets_of(client, reader, k11)["annual"] == 80.0
    assert targets_of(client, reader, k12)["annual"] is None
    assert targets_of(client, reader, k12)["quarters"] == {"4": 12.0}
    # An indicator not named keeps its targets.
    client.put(BULK, headers=admin, json=[{"indicator_id": k12, "annual": 1, "quarters": {}}])
    assert targets_of(client, reader, k11)["quarters"] == {"2": 45.0}


def test_any_refused_item_stores_nothing_and_names_every_one(client, admin, reader, session):
    k11, k12 = indicator_id(session, "KADIS.1.1"), indicator_id(session, "KADIS.1.2")
    before = target_events(session)
    items = [
        {"indicator_id": k11, "annual": 80, "quarters": {}},
        {"indicator_id": 999_999, "annual": 1, "quarters": {}},
        {"indicator": "KADIS.9.9", "annual": 1, "quarters": {}},
        {"indicator": "KADIS.1.2", "agency": "NOPE", "annual": 1, "quarters": {}},
        {"indicator": "KADIS.1.1", "annual": 70, "quarters": {}},
        {"indicator_id": k12, "annual": 10, "quarters": {"1": 2}},
    ]
    body = assert_problem(client.put(BULK, headers=admin, json=items), 422, "targets_rejected")
    assert body["rejected"] == 4
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "unknown_indicator"),
        (2, "unknown_indicator"),
        (3, "unknown_agency"),
        (4, "duplicate"),
    ]
    assert [e["field"] for e in body["errors"]] == [
        "body.1.indicator_id",
        "body.2.indicator",
        "body.3.agency",
        "body.4.indicator",
    ]
    assert (body["errors"][0]["indicator_id"], body["errors"][0]["indicator"]) == (999_999, None)
    assert body["errors"][1]["indicator"] == "KADIS.9.9"
    assert body["errors"][3]["indicator"] == "KADIS.1.1"
    assert "item 0" in body["errors"][3]["message"]
    assert targets_of(client, reader, k11)["annual"] is None
    assert targets_of(client, reader, k12)["annual"] is None
    assert target_events(session) == before


def test_each_indicator_once(client, admin, session):
    k11 = indicator_id(session, "KADIS.1.1")
    twice = [{"indicator_id": k11, "annual": 1, "quarters": {}}] * 2
    body = assert_problem(client.put(BULK, headers=admin, json=twice), 422, "targets_rejected")
    assert [(e["index"], e["code"], e["indicator"]) for e in body["errors"]] == [
        (1, "duplicate", "KADIS.1.1")
    ]


def test_indicators_of_another_year_are_refused(client, admin, session):
    k11 = indicator_id(session, "KADIS.1.1")
    items = [
        {"indicator_id": k11, "annual": 1, "quarters": {}},
        {"indicator": "KADIS.1.2", "annual": 1, "quarters": {}},
    ]
    # A year of no decree at all is refused as a whole, as any route of a year refuses it.
    response = client.put(f"{API}/targets/2026", headers=admin, json=items)
    assert_problem(response, 404, "year_not_in_decree")
    sk_2026 = {"agency": "DINSOSP3A", "number": "SK/2026", "date": "2026-01-05", "year": 2026}
    assert client.post(f"{API}/decrees", headers=admin, json=sk_2026).status_code == 201
    response = client.put(f"{API}/targets/2026", headers=admin, json=items)
    body = assert_problem(response, 422, "targets_rejected")
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (0, "other_year"),
        (1, "unknown_indicator"),
    ]
    assert "SK of 2025, not 2026" in body["errors"][0]["message"]


def test_several_agencies_need_the_agency_named(client, admin, session):
    created = client.post(
        f"{API}/agencies", headers=admin, json={"code": "DINKES", "name": "Dinas Kesehatan"}
    )
    assert created.status_code == 201, created.text
    items = [
        {"indicator": "KADIS.1.1", "annual": 1, "quarters": {}},
        {"indicator": "KADIS.1.2", "agency": "DINKES", "annual": 1, "quarters": {}},
        {"indicator": "KADIS.1.3", "agency": "DINSOSP3A", "annual": 1, "quarters": {}},
    ]
    body = assert_problem(client.put(BULK, headers=admin, json=items), 422, "targets_rejected")
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (0, "agency_required"),
        (1, "unknown_indicator"),
    ]
    assert client.put(BULK, headers=admin, json=items[2:]).status_code == 200


@pytest.mark.parametrize(
    "item",
    [
        {"annual": 1, "quarters": {}},
        {"indicator_id": 1, "indicator": "KADIS.1.1", "annual": 1, "quarters": {}},
        {"indicator_id": 1, "agency": "DINSOSP3A", "annual": 1, "quarters": {}},
        {"indicator_id": 1, "annual": -1, "quarters": {}},
        {"indicator_id": 1, "annual": 1, "quarters": {"5": 1}},
        {"indicator_id": 1, "quarters": {}},
        {"indicator": "kadis 1.1", "annual": 1, "quarters": {}},
    ],
)
def test_items_are_validated(client, admin, item):
    response = client.put(BULK, headers=admin, json=[item])
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"].startswith("body.0")


def test_at_most_ten_thousand_items(client, admin, session):
    k11 = indicator_id(session, "KADIS.1.1")
    items = [{"indicator_id": k11, "annual": 1, "quarters": {}}] * (MAX_INDICATORS + 1)
    assert_problem(client.put(BULK, headers=admin, json=items), 422, "validation_error")


def test_a_verified_quarter_keeps_its_target(client, admin, reader, psm, verifier, session):
    k11, k12 = indicator_id(session, "KADIS.1.1"), indicator_id(session, "KADIS.1.2")
    client.put(BULK, headers=admin, json=[{"indicator_id": k11, "annual": 40, "quarters": {}}])
    verify_q1_of_psm(client, psm, verifier, k11)
    items = [
        {"indicator_id": k12, "annual": 10, "quarters": {}},
        {"indicator_id": k11, "annual": 50, "quarters": {}},
    ]
    body = assert_problem(client.put(BULK, headers=admin, json=items), 409, "targets_rejected")
    (error,) = body["errors"]
    assert (error["index"], error["code"], error["indicator"], error["quarters"]) == (
        1,
        "verified_data",
        "KADIS.1.1",
        [1],
    )
    assert targets_of(client, reader, k12)["annual"] is None
    # With another refusal the answer is 422, naming both.
    mixed = [*items, {"indicator_id": 999_999, "annual": 1, "quarters": {}}]
    body = assert_problem(client.put(BULK, headers=admin, json=mixed), 422, "targets_rejected")
    assert [e["code"] for e in body["errors"]] == ["verified_data", "unknown_indicator"]
    # A target of its own for Q2 leaves Q1 as it was.
    items[1]["quarters"] = {"2": 20}
    items[1]["annual"] = 40
    assert client.put(BULK, headers=admin, json=items).status_code == 200


def test_admin_only(client, make_key, session):
    k11 = indicator_id(session, "KADIS.1.1")
    items = [{"indicator_id": k11, "annual": 1, "quarters": {}}]
    for role, units in ((Role.reader, ()), (Role.operator, ("BID_PSM",)), (Role.verifier, ())):
        denied = client.put(BULK, headers=make_key(role, units=units), json=items)
        assert_problem(denied, 403, "forbidden")
    assert_problem(client.put(BULK, json=items), 401, "unauthenticated")


def test_the_single_put_answers_its_own_errors(client, admin, psm, verifier, session):
    """The PUT of one indicator is the bulk write of one item, with its errors as before."""
    k11 = indicator_id(session, "KADIS.1.1")
    one = f"{API}/indicators/{{}}/targets/{{}}"
    assert_problem(
        client.put(one.format(999_999, YEAR), headers=admin, json={"annual": 1}), 404, "not_found"
    )
    body = assert_problem(
        client.put(one.format(k11, 2026), headers=admin, json={"annual": 1}),
        404,
        "year_not_in_decree",
    )
    assert body["field"] == "year"
    assert client.put(one.format(k11, YEAR), headers=admin, json={"annual": 40}).status_code == 200
    verify_q1_of_psm(client, psm, verifier, k11)
    body = assert_problem(
        client.put(one.format(k11, YEAR), headers=admin, json={"annual": 50}), 409, "verified_data"
    )
    assert body["quarters"] == [1]


def test_statements_do_not_grow_with_the_items(client, admin, session, count_statements):
    k11 = indicator_id(session, "KADIS.1.1")
    others = session.exec(
        select(Indicator.id).where(Indicator.id != k11).order_by(col(Indicator.id))
    )
    ids = [k11, *others]

    def write(chosen, annual, quarters):
        items = [
            {"indicator_id": ident, "annual": annual, "quarters": quarters} for ident in chosen
        ]
        count_statements.statements.clear()
        response = client.put(BULK, headers=admin, json=items)
        assert response.status_code == 200, response.text
        # SQLAlchemy inserts new rows one statement each on SQLite, where the order of
        # RETURNING is not guaranteed (in pages of 1000 rows on PostgreSQL).
        return [s for s in count_statements.statements if not s.startswith("INSERT INTO target")]

    quarters = {"1": 1, "2": 2, "3": 3}
    small = write(ids[:3], 10, quarters)  # creates
    large = write(ids, 20, quarters)  # creates and updates
    assert len(small) <= 20, small
    # Updating (and creating) adds the UPDATE and its audit events, not one per item.
    assert len(large) <= len(small) + 2, large
    # Updating alone, and removing: no new rows, so no statement per item at all.
    updated = write(ids, 30, quarters)
    assert len(updated) <= len(small) + 2, updated
    removed = write(ids, 30, {})
    assert len(removed) <= len(small) + 3, removed
    assert count_statements.count == len(removed)
