"""Capabilities instead of ranks: every route asks for one, every role is a named set of
them, and each role is refused (403, the same problem as ever) whatever is outside its set."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.main import RESOURCES
from app.models import ROLE_CAPABILITIES, Capability, Role
from tests.api.helpers import assert_problem

# A value for every path parameter of /api/v1 (the seeded SK's ids and codes).
PATH_VALUES = {
    "year": "2025",
    "quarter": "1",
    "unit": "BID_PSM",
    "code": "BID_PSM",
}
SCALE_CODE = "PERMENDAGRI_86_2017"


def _capabilities(dependant: Dependant) -> set[Capability]:
    own = getattr(dependant.call, "capability", None)
    found = {own} if own is not None else set()
    for sub in dependant.dependencies:
        found |= _capabilities(sub)
    return found


def api_routes() -> Iterator[tuple[str, str, APIRoute, set[Capability]]]:
    for module in RESOURCES:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                yield method, "/api/v1" + route.path, route, _capabilities(route.dependant)


ROUTES = list(api_routes())


def _url(path: str) -> str:
    if path.startswith("/api/v1/rating-scales/"):
        path = path.replace("{code}", SCALE_CODE)
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def test_every_route_asks_for_exactly_one_capability_of_its_own():
    assert len(ROUTES) > 60
    for method, path, _route, capabilities in ROUTES:
        # Reading the definitions is the router's, the route adds what it does (a report
        # reads achievements, a write administers): the most specific one decides.
        assert capabilities, f"{method} {path} asks for no capability"
        assert len(capabilities - {Capability.read_definitions}) <= 1, (method, path)


def test_roles_are_named_sets_of_capabilities():
    assert set(ROLE_CAPABILITIES) == set(Role)
    assert ROLE_CAPABILITIES[Role.admin] == frozenset(Capability)
    viewer, reader, auditor = (
        ROLE_CAPABILITIES[r] for r in (Role.viewer, Role.reader, Role.auditor)
    )
    assert viewer == {Capability.read_definitions, Capability.read_achievements}
    assert reader == viewer | {Capability.read_data}
    assert auditor == reader | {Capability.read_audit}
    writes = {
        Capability.enter_data,
        Capability.submit,
        Capability.verify,
        Capability.all_units,
        Capability.administer,
    }
    assert not (viewer | reader | auditor) & writes
    # every capability is granted by some role other than admin, or is admin's alone by design
    assert {c for r in Role if r != Role.admin for c in r.capabilities} == set(Capability) - {
        Capability.all_units,
        Capability.administer,
    }


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_exactly_what_is_outside_its_set(client, make_key, role):
    """Every operation of /api/v1 with a key of each role: 403 `forbidden` where the route's
    capability is not in the role's set, never 403 where it is (the unit scope aside: the
    key is scoped to the unit the paths name)."""
    headers = make_key(role, units=("BID_PSM",))
    granted = role.capabilities
    refused = allowed = 0
    for method, path, _route, capabilities in ROUTES:
        needed = capabilities - {Capability.read_definitions} or capabilities
        # Writes go with an empty body: a granted key gets past the check and meets 422 (or
        # a conflict), so nothing is changed; only a DELETE without a body may pass, and is
        # refused for the seeded rows in use.
        response = client.request(method, _url(path), headers=headers, json=None)
        if needed <= granted and capabilities <= granted:
            assert response.status_code != 403, (role, method, path, response.text)
            allowed += 1
        else:
            body = assert_problem(response, 403, "forbidden")
            assert next(iter(needed)) in body["detail"]
            refused += 1
    assert allowed and (refused or role == Role.admin)


def test_auditor_reads_the_audit_trail_but_verifies_nothing(client, make_key):
    auditor = make_key(Role.auditor)
    assert client.get("/api/v1/audit", headers=auditor).status_code == 200
    assert client.get("/api/v1/data-values?year=2025", headers=auditor).status_code == 200
    for step in ("submit", "verify", "return", "reopen"):
        response = client.post(
            f"/api/v1/periods/2025/1/units/BID_PSM/{step}", headers=auditor, json={"note": "x"}
        )
        assert_problem(response, 403, "forbidden")


def test_viewer_reads_definitions_and_achievements_only(client, make_key):
    viewer = make_key(Role.viewer)
    assert client.get("/api/v1/indicators?year=2025", headers=viewer).status_code == 200
    pulled = client.get("/api/v1/achievements?year=2025&quarter=1", headers=viewer)
    assert pulled.status_code == 200 and pulled.json()["total"] > 0
    for path in (
        "/api/v1/data-values?year=2025",
        "/api/v1/indicators/1/realizations/2025/1",
        "/api/v1/audit",
        "/api/v1/units/BID_PSM/realization-template.xlsx?year=2025&quarter=1",
    ):
        assert_problem(client.get(path, headers=viewer), 403, "forbidden")


def test_a_verifier_enters_data_only_where_scoped(client, make_key):
    body = {"values": {"psks_terdata": 200}}
    unscoped = make_key(Role.verifier)
    assert_problem(
        client.put("/api/v1/data-values/2025/1", headers=unscoped, json=body), 403, "forbidden"
    )
    scoped = make_key(Role.verifier, units=("BID_PSM",))
    assert client.put("/api/v1/data-values/2025/1", headers=scoped, json=body).status_code == 200
