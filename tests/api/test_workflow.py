"""The verification workflow: a whole quarter walked through the API, locks, four eyes,
roles, and what verified capaian protect."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import AuditEvent, DataValue, Period
from tests.api.helpers import assert_problem, indicator_id, request_id

API = "/api/v1"
YEAR = 2025


@pytest.fixture
def kadis_1_1(session):
    return indicator_id(session, "KADIS.1.1")  # psks_diberdayakan / psks_terdata, BID_PSM


def realization(client, headers, ind, quarter, values, request_id=None):
    extra = {"X-Request-ID": request_id} if request_id else {}
    return client.put(
        f"{API}/indicators/{ind}/realizations/{YEAR}/{quarter}",
        headers={**headers, **extra},
        json={"values": values},
    )


def step(client, headers, action, quarter=1, unit="BID_PSM", note=None, request_id=None):
    extra = {"X-Request-ID": request_id} if request_id else {}
    return client.post(
        f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{action}",
        headers={**headers, **extra},
        json={"note": note} if note else None,
    )


def period(client, headers, quarter=1, unit="BID_PSM"):
    body = client.get(
        f"{API}/periods", headers=headers, params={"year": YEAR, "quarter": quarter, "unit": unit}
    ).json()
    assert body["total"] == 1
    return body["items"][0]


def values_of(session, codes=("psks_diberdayakan", "psks_terdata"), quarter=1):
    from app.models import Variable

    rows = session.exec(
        select(Variable.code, DataValue.value)
        .join(DataValue, DataValue.variable_id == Variable.id)
        .where(
            Variable.code.in_(codes),  # type: ignore[attr-defined]
            DataValue.year == YEAR,
            DataValue.quarter == quarter,
        )
    ).all()
    return dict(rows)


def events(client, headers, **filters):
    body = client.get(f"{API}/audit", headers=headers, params={"limit": 1000, **filters})
    assert body.status_code == 200, body.text
    return body.json()["items"]


def test_a_whole_quarter(client, session, psm, psm_verifier, verifier, reader, admin, kadis_1_1):
    targets = f"{API}/indicators/{kadis_1_1}/targets/{YEAR}"
    assert client.put(targets, headers=admin, json={"annual": 40}).status_code == 200
    # The operator reports, the Sekretaris (a verifier scoped to BID_PSM) corrects one value.
    assert realization(client, psm, kadis_1_1, 1, {"psks_diberdayakan": 30}).status_code == 200
    assert realization(client, psm_verifier, kadis_1_1, 1, {"psks_terdata": 200}).status_code == 200
    assert period(client, reader)["state"] == "open"

    submitted = step(client, psm, "submit", request_id=request_id("req-submit-1"))
    assert submitted.status_code == 200, submitted.text
    assert submitted.headers["X-Request-ID"] == request_id("req-submit-1")
    assert (submitted.json()["state"], submitted.json()["changed_by"]) == (
        "submitted",
        "psm-operator",
    )

    # Locked: a single write and an atomic import store nothing; a non-atomic one stores
    # only the rows of open quarters.
    body = assert_problem(
        realization(client, psm, kadis_1_1, 1, {"psks_diberdayakan": 31}), 409, "period_locked"
    )
    assert "BID_PSM 2025 Q1 is submitted" in body["detail"]
    rows = [
        {"variable": "psks_diberdayakan", "year": YEAR, "quarter": 1, "value": 32},
        {"variable": "psks_diberdayakan", "year": YEAR, "quarter": 2, "value": 33},
    ]
    body = assert_problem(
        client.post(f"{API}/data-values/import", headers=psm, json={"rows": rows}),
        422,
        "import_rejected",
    )
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(1, "period_locked")]
    assert values_of(session, quarter=2) == {}
    partial = client.post(
        f"{API}/data-values/import",
        headers=psm,
        params={"atomic": "false"},
        json={"rows": rows},
    )
    assert partial.status_code == 200, partial.text
    assert (partial.json()["created"], partial.json()["rejected"]) == (1, 1)
    assert values_of(session) == {"psks_diberdayakan": 30, "psks_terdata": 200}
    assert values_of(session, quarter=2) == {"psks_diberdayakan": 33}

    # Kepala Dinas returns it with a note the operator sees; the operator fixes and resubmits.
    returned = step(client, verifier, "return", note="psks_terdata TW I belum sesuai SIKS-NG")
    assert returned.status_code == 200, returned.text
    seen = period(client, psm)
    assert (seen["state"], seen["note"]) == ("returned", "psks_terdata TW I belum sesuai SIKS-NG")
    assert realization(client, psm, kadis_1_1, 1, {"psks_terdata": 240}).status_code == 200
    assert step(client, psm, "submit").status_code == 200

    # Four eyes: the Sekretaris wrote data of this quarter, so it may not verify it; the
    # writers named are everyone whose values, targets or definitions it rests on (the
    # admin set KADIS.1.1's target).
    body = assert_problem(step(client, psm_verifier, "verify"), 409, "self_verification")
    (admin_name,) = set(body["writers"]) - {"psm-operator", "sekretaris"}
    assert body["writers"] == sorted([admin_name, "psm-operator", "sekretaris"])
    assert admin_name.startswith("admin-")
    assert_problem(step(client, admin, "verify"), 409, "self_verification")
    assert period(client, reader)["state"] == "submitted"
    verified = step(client, verifier, "verify", request_id=request_id("req-verify-1"))
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified"

    # e-SAKIP pulls verified capaian only.
    item = client.get(
        f"{API}/achievements",
        headers=reader,
        params={"year": YEAR, "quarter": 1, "indicator": "KADIS.1.1", "verified_only": "true"},
    ).json()["items"][0]
    assert (item["status"], item["verification"], item["verified"]) == ("ok", "verified", True)
    assert item["values"] == {"psks_diberdayakan": 30, "psks_terdata": 240}
    assert item["realization"] == pytest.approx(12.5)
    assert item["achievement"] == pytest.approx(31.25)

    # Each step is in the audit trail, with before and after and its request's id.
    (verify,) = events(client, verifier, request_id=request_id("req-verify-1"))
    assert (verify["action"], verify["entity"], verify["actor"]) == (
        "verify",
        "period",
        "kepala-dinas",
    )
    assert verify["before"]["state"] == "submitted" and verify["after"]["state"] == "verified"
    (submit,) = events(client, verifier, request_id=request_id("req-submit-1"))
    assert submit["action"] == "submit" and submit["after"]["state"] == "submitted"
    actions = [e["action"] for e in events(client, verifier, entity="period")]
    assert actions == ["verify", "submit", "return", "submit"]  # newest first

    # The history of the realization: every value, who set it, in which state.
    history = client.get(
        f"{API}/indicators/{kadis_1_1}/realizations/{YEAR}/1/history", headers=reader
    ).json()
    assert [
        (h["variable"], h["value"], h["previous"], h["actor"], h["period_state"]) for h in history
    ] == [
        ("psks_diberdayakan", 30, None, "psm-operator", "open"),
        ("psks_terdata", 200, None, "sekretaris", "open"),
        ("psks_terdata", 240, 200, "psm-operator", "returned"),
    ]

    # Reopened with a reason, the quarter is open and writable again.
    assert_problem(step(client, verifier, "reopen"), 422, "invalid_input")  # no reason
    assert step(client, verifier, "reopen", note="Koreksi data BPS").json()["state"] == "open"
    assert realization(client, psm, kadis_1_1, 1, {"psks_diberdayakan": 31}).status_code == 200


@pytest.mark.parametrize(
    ("state_steps", "action", "allowed"),
    [
        ([], "verify", ["submit"]),
        ([], "return", ["submit"]),
        ([], "reopen", ["submit"]),
        (["submit"], "submit", ["return", "verify"]),
        (["submit"], "reopen", ["return", "verify"]),
        (["submit", "verify"], "return", ["reopen"]),
        (["submit", "verify"], "submit", ["reopen"]),
    ],
)
def test_illegal_transitions_change_nothing(
    client, session, psm, verifier, state_steps, action, allowed
):
    for earlier in state_steps:
        assert step(client, verifier if earlier != "submit" else psm, earlier).status_code == 200
    state = period(client, verifier)["state"]
    count = len(events(client, verifier))
    body = assert_problem(
        step(client, verifier if action != "submit" else psm, action, note="x"),
        409,
        "invalid_transition",
    )
    assert (body["state"], body["allowed"]) == (state, allowed)
    assert period(client, verifier)["state"] == state
    assert len(events(client, verifier)) == count


def test_roles_of_the_workflow(client, session, psm, psm_verifier, verifier, reader, rpjs):
    assert_problem(step(client, reader, "submit"), 403, "forbidden")
    assert_problem(step(client, rpjs, "submit"), 403, "forbidden")
    assert_problem(step(client, verifier, "submit"), 403, "forbidden")  # verifiers do not enter
    assert step(client, psm, "submit").status_code == 200
    assert_problem(step(client, psm, "verify"), 403, "forbidden")
    assert_problem(step(client, psm, "return", note="x"), 403, "forbidden")
    assert period(client, reader)["state"] == "submitted"
    assert session.exec(select(Period)).one().changed_by == "psm-operator"
    assert_problem(client.get(f"{API}/audit", headers=psm), 403, "forbidden")


def test_verifiers_enter_data_only_where_scoped(client, psm, psm_verifier, verifier, kadis_1_1):
    assert_problem(
        realization(client, verifier, kadis_1_1, 1, {"psks_terdata": 1}), 403, "forbidden"
    )
    assert realization(client, psm_verifier, kadis_1_1, 1, {"psks_terdata": 1}).status_code == 200


def test_unknown_unit_and_periods_list(client, psm, reader):
    assert_problem(step(client, psm, "submit", unit="NOPE"), 404, "not_found")
    listed = client.get(f"{API}/periods", headers=reader, params={"year": YEAR}).json()
    assert listed["total"] == 6 * 4
    assert {p["state"] for p in listed["items"]} == {"open"}
    assert_problem(client.get(f"{API}/periods", headers=reader), 422, "validation_error")


def test_verified_capaian_protect_their_definitions_and_targets(
    client, session, psm, verifier, admin, kadis_1_1
):
    targets = f"{API}/indicators/{kadis_1_1}/targets/{YEAR}"
    assert client.put(targets, headers=admin, json={"annual": 40}).status_code == 200
    assert (
        realization(
            client, psm, kadis_1_1, 1, {"psks_diberdayakan": 3, "psks_terdata": 9}
        ).status_code
        == 200
    )
    step(client, psm, "submit")
    step(client, verifier, "verify")

    indicator = f"{API}/indicators/{kadis_1_1}"
    body = assert_problem(
        client.patch(
            indicator, headers=admin, json={"formula": "psks_diberdayakan / psks_terdata"}
        ),
        409,
        "verified_data",
    )
    assert "/api/v1/decrees/" in body["detail"] and body["quarters"] == [1]
    assert_problem(
        client.patch(indicator, headers=admin, json={"polarity": "lower_is_better"}),
        409,
        "verified_data",
    )
    assert client.patch(indicator, headers=admin, json={"notes": "Catatan"}).status_code == 200

    # Q1 is measured against the annual target: changing it rewrites a verified figure.
    assert_problem(client.put(targets, headers=admin, json={"annual": 50}), 409, "verified_data")
    # A target of its own for Q2 leaves Q1 as it was.
    assert (
        client.put(targets, headers=admin, json={"annual": 40, "quarters": {"2": 20}}).status_code
        == 200
    )
    step(client, verifier, "reopen", note="Revisi target")
    assert client.put(targets, headers=admin, json={"annual": 50}).status_code == 200


def test_a_failure_before_commit_leaves_no_change_and_no_event(
    client, session, psm, kadis_1_1, monkeypatch
):
    from app.services import data_values

    def broken(*args, **kwargs):
        raise RuntimeError("after the write, before the commit")

    monkeypatch.setattr(data_values, "compute_for", broken)
    client.app.state  # noqa: B018 - the app the client drives
    from fastapi.testclient import TestClient

    with TestClient(client.app, raise_server_exceptions=False) as quiet:
        answer = realization(
            quiet, psm, kadis_1_1, 1, {"psks_diberdayakan": 7}, request_id("req-broken")
        )
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == request_id("req-broken")
    assert values_of(session) == {}
    assert (
        session.exec(
            select(AuditEvent).where(AuditEvent.request_id == request_id("req-broken"))
        ).all()
        == []
    )
