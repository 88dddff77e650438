"""The OpenAPI document states every bound the server enforces, in JSON Schema's own words,
and the server refuses what the document calls invalid."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.types import MAX_ID, MAX_MAGNITUDE, QUARTER_KEY_PATTERN, VARIABLE_CODE_PATTERN
from app.schemas.common import CURSOR_PATTERN
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"
YEAR = 2025
PYDANTIC_BOUNDS = {"ge", "le", "gt", "lt"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from app.main import app

    return app.openapi()


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the document, with where it is."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def schemas_of(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the document that may be a schema: not a map of properties by name
    (whose keys are names, which may be anything)."""
    for where, found in walk(spec):
        if not where.endswith(("/properties", "/paths")) and "/examples" not in where:
            yield where, found


def test_no_bound_is_stated_under_a_name_json_schema_does_not_know(spec):
    misnamed = [
        (where, sorted(PYDANTIC_BOUNDS & set(found)))
        for where, found in schemas_of(spec)
        if PYDANTIC_BOUNDS & set(found)
    ]
    assert misnamed == []


def test_every_object_with_constrained_keys_states_them_as_property_names(spec):
    """No `patternProperties` (which leaves every other key free), and every object whose
    values have a schema names its keys."""
    objects = [(where, found) for where, found in schemas_of(spec) if found.get("type") == "object"]
    assert len(objects) > 50
    loose = [
        where
        for where, found in objects
        if "patternProperties" in found
        or (isinstance(found.get("additionalProperties"), dict) and "propertyNames" not in found)
    ]
    assert loose == []


def test_the_keys_and_bounds_of_targets_and_values(spec):
    schemas = spec["components"]["schemas"]
    quarters = schemas["TargetsPut"]["properties"]["quarters"]
    assert quarters["propertyNames"] == {"pattern": QUARTER_KEY_PATTERN}
    assert quarters["additionalProperties"] == {
        "type": "number",
        "minimum": 0,
        "maximum": MAX_MAGNITUDE,
    }
    annual = schemas["TargetsPut"]["properties"]["annual"]["anyOf"][0]
    assert (annual["minimum"], annual["maximum"]) == (0, MAX_MAGNITUDE)
    assert schemas["TargetsPublic"]["properties"]["quarters"]["propertyNames"] == {
        "pattern": QUARTER_KEY_PATTERN
    }
    values = schemas["DataValuesPut"]["properties"]["values"]
    assert values["propertyNames"] == {"pattern": VARIABLE_CODE_PATTERN}
    assert values["additionalProperties"]["minimum"] == -MAX_MAGNITUDE
    trial = schemas["FormulaCheck"]["properties"]["values"]["anyOf"][0]
    assert trial["propertyNames"] == {"pattern": VARIABLE_CODE_PATTERN}
    for name in ("values", "quarter_values"):
        answered = schemas["AchievementPublic"]["properties"][name]
        assert answered["propertyNames"] == {"pattern": VARIABLE_CODE_PATTERN}


def test_ids_in_paths_and_queries_are_bounded_integers(spec):
    ids = [
        (f"{method} {path}", parameter)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["name"].endswith("_id")
        and parameter["in"] in ("path", "query")
        # The audit's record and request ids are text (`12:3`, an X-Request-ID).
        and parameter["name"] not in ("entity_id", "request_id")
    ]
    assert len(ids) >= 30
    for where, parameter in ids:
        schema = parameter["schema"]
        schema = next((s for s in schema.get("anyOf", [schema]) if s["type"] != "null"), schema)
        assert schema["type"] == "integer", where
        assert (schema["minimum"], schema["maximum"]) == (1, MAX_ID), where
        assert "pattern" not in schema, where


def test_the_cursor_is_described(spec):
    for path in ("/api/v1/achievements", "/api/v1/data-values"):
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        cursor = parameters["cursor"]
        schema = cursor["schema"]["anyOf"][0]
        assert schema == {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": 21}
        assert "opaque" in cursor["description"] and "422" in cursor["description"]
    for name, schema in spec["components"]["schemas"].items():
        if name.startswith("CursorPage"):
            answered = schema["properties"]["cursor"]
            assert answered["pattern"] == CURSOR_PATTERN, name
            assert "send back as the `cursor`" in answered["description"], name
    csv = spec["paths"]["/api/v1/achievements"]["get"]["responses"]["200"]["headers"]
    assert csv["X-Cursor"]["schema"]["pattern"] == CURSOR_PATTERN


def test_every_cursor_answered_is_one_the_document_describes(client, reader):
    for path in ("achievements", "data-values"):
        answer = client.get(f"{API}/{path}", headers=reader, params={"year": YEAR})
        assert answer.status_code == 200, answer.text
        cursor = answer.json()["cursor"]
        assert re.fullmatch(CURSOR_PATTERN, cursor), cursor
        again = client.get(f"{API}/{path}", headers=reader, params={"year": YEAR, "cursor": cursor})
        assert again.status_code == 200, again.text


# The server refuses what the document calls invalid -------------------------------------------


@pytest.mark.parametrize("key", ["01", " 1", "1 ", "+1", "1.0", "5", "0", "1\n", "١"])
def test_a_quarter_key_is_one_digit_of_1_to_4(client, admin, session, key):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/targets/{YEAR}"
    refused = client.put(url, headers=admin, json={"annual": 40, "quarters": {key: 10}})
    body = assert_problem(refused, 422, "validation_error")
    assert body["errors"][0]["field"].startswith("body.quarters.")
    assert not re.fullmatch(QUARTER_KEY_PATTERN, key)


def test_a_quarter_key_as_the_document_says_it_is_taken(client, admin, session):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/targets/{YEAR}"
    taken = client.put(url, headers=admin, json={"annual": 40, "quarters": {"1": 10, "4": 40}})
    assert taken.status_code == 200, taken.text
    assert taken.json()["quarters"] == {"1": 10, "4": 40}


@pytest.mark.parametrize("body", [{"annual": -1}, {"annual": 1, "quarters": {"2": -0.5}}])
def test_a_target_below_its_minimum_is_refused(client, admin, session, body):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/targets/{YEAR}"
    assert_problem(client.put(url, headers=admin, json=body), 422, "validation_error")


@pytest.mark.parametrize("key", ["Psks_terdata", "psks-terdata", "1x", "", "a" * 65])
def test_a_value_key_that_cannot_be_a_variable_code_is_refused(client, psm, key):
    refused = client.put(f"{API}/data-values/{YEAR}/1", headers=psm, json={"values": {key: 1}})
    body = assert_problem(refused, 422, "validation_error")
    assert body["errors"][0]["field"].startswith("body.values")


def test_a_value_beyond_the_stated_maximum_is_refused(client, psm):
    refused = client.put(
        f"{API}/data-values/{YEAR}/1",
        headers=psm,
        json={"values": {"psks_terdata": MAX_MAGNITUDE * 10}},
    )
    assert_problem(refused, 422, "validation_error")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("indicators", {"code": "KADIS.1"}),
        ("indicators", {"unit": "bid_psm"}),
        ("variables", {"unit": "BID PSM"}),
        ("positions", {"agency": "dinsosp3a"}),
        ("data-values", {"variable": "Psks"}),
        ("achievements", {"year": YEAR, "position": "kadis"}),
    ],
)
def test_a_filter_that_cannot_be_a_code_is_refused(client, reader, path, params):
    body = assert_problem(
        client.get(f"{API}/{path}", headers=reader, params=params), 422, "validation_error"
    )
    assert body["errors"][0]["field"].startswith("query.")


def test_every_operation_documents_busy_and_every_body_a_stall(spec):
    """A pool or lock timeout (503) can meet any operation, a stalled body (408) any that
    reads one: both are stated, as problems that say when to retry."""
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    for operation in operations:
        busy = operation["responses"]["503"]
        if operation["operationId"] == "readyz":  # not ready: its own answer, no time to tell
            continue
        assert "Retry-After" in busy["headers"], operation["operationId"]
        assert "application/problem+json" in busy["content"]
        assert ("408" in operation["responses"]) == ("requestBody" in operation)
    assert sum("requestBody" in op for op in operations) > 20
