"""The seal as a property: random sequences of data writes, definition and target changes,
scale edits and workflow steps by random principals never change a sealed figure except by
a verify or a reopen, every figure served as verified is its seal, and the drift check finds
nothing after each sequence."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.models import Role, SealedFigure, Variable
from app.services.achievements import drift
from tests.api.helpers import indicator_id

API = "/api/v1"
YEAR = 2025
UNITS = ("BID_PSM", "BID_RPJS")
PRINCIPALS = ("operator", "verifier_a", "verifier_b", "admin")
STEPS = ("submit", "verify", "return", "reopen")

actions = st.one_of(
    st.tuples(
        st.just("write"),
        st.sampled_from(PRINCIPALS),
        st.sampled_from(("psks_diberdayakan", "psks_terdata", "ppks_rehabilitasi", "ppks_terdata")),
        st.integers(1, 4),
        st.integers(0, 500),
    ),
    st.tuples(
        st.just("step"),
        st.sampled_from(PRINCIPALS),
        st.sampled_from(STEPS),
        st.sampled_from(UNITS),
        st.integers(1, 4),
    ),
    st.tuples(
        st.just("target"), st.sampled_from(PRINCIPALS), st.integers(0, 4), st.integers(1, 90)
    ),
    st.tuples(st.just("aggregation"), st.sampled_from(("sum", "last", "max"))),
    st.tuples(st.just("polarity"), st.sampled_from(("higher_is_better", "lower_is_better"))),
    st.tuples(st.just("scale"), st.integers(50, 120)),
)


def sealed(session):
    session.expire_all()
    return {
        (row.indicator_id, row.year, row.quarter): row.figure
        for row in session.exec(select(SealedFigure))
    }


@pytest.fixture
def principals(make_key, admin):
    return {
        "operator": make_key(Role.operator, units=UNITS, name="operator"),
        # Both verifiers may also enter data, so four eyes has work to do.
        "verifier_a": make_key(Role.verifier, units=UNITS, name="verifier-a"),
        "verifier_b": make_key(Role.verifier, name="verifier-b"),
        "admin": admin,
    }


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(sequence=st.lists(actions, min_size=4, max_size=12))
def test_nothing_but_a_verify_or_a_reopen_moves_a_sealed_figure(
    client, session, principals, sequence
):
    kadis = [indicator_id(session, code) for code in ("KADIS.1.1", "KADIS.1.2")]
    psks_terdata = session.exec(select(Variable).where(Variable.code == "psks_terdata")).one()
    # Each example starts from the same database: a savepoint under the session's own.
    session.commit()
    outer = session.bind.begin_nested()  # type: ignore[union-attr]
    try:
        # A start with official figures: BID_PSM's Q1 and Q2 and BID_RPJS's Q1 verified.
        operator, verifier = principals["operator"], principals["verifier_b"]
        for quarter in (1, 2):
            values = {"psks_diberdayakan": 20 * quarter, "psks_terdata": 200}
            values |= {"ppks_rehabilitasi": 10 * quarter, "ppks_terdata": 80}
            written = client.put(
                f"{API}/data-values/{YEAR}/{quarter}", headers=operator, json={"values": values}
            )
            assert written.status_code == 200, written.text
        for unit, quarter in (("BID_PSM", 1), ("BID_PSM", 2), ("BID_RPJS", 1)):
            for step, who in (("submit", operator), ("verify", verifier)):
                url = f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{step}"
                assert client.post(url, headers=who).status_code == 200
        before = sealed(session)
        assert before
        for action in sequence:
            kind = action[0]
            response = None
            if kind == "write":
                _, who, code, quarter, value = action
                response = client.put(
                    f"{API}/data-values/{YEAR}/{quarter}",
                    headers=principals[who],
                    json={"values": {code: value}},
                )
            elif kind == "step":
                _, who, step, unit, quarter = action
                note = {"note": "alasan"} if step in ("return", "reopen") else None
                response = client.post(
                    f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{step}",
                    headers=principals[who],
                    json=note,
                )
            elif kind == "target":
                _, who, quarter, value = action
                quarters = {str(quarter): value} if quarter else {}
                response = client.put(
                    f"{API}/indicators/{kadis[0]}/targets/{YEAR}",
                    headers=principals[who],
                    json={"annual": value, "quarters": quarters},
                )
            elif kind == "aggregation":
                response = client.patch(
                    f"{API}/variables/{psks_terdata.id}",
                    headers=principals["admin"],
                    json={"aggregation": action[1]},
                )
            elif kind == "polarity":
                response = client.patch(
                    f"{API}/indicators/{kadis[1]}",
                    headers=principals["admin"],
                    json={"polarity": action[1]},
                )
            elif kind == "scale":
                scales = client.get(f"{API}/rating-scales", headers=principals["admin"]).json()
                (default,) = [s for s in scales if s["is_default"]]
                bands = [dict(b) for b in default["bands"]]
                top = max(bands, key=lambda b: b["min"] if b["min"] is not None else -1)
                top["min"] = action[1]
                response = client.put(
                    f"{API}/rating-scales/{default['code']}",
                    headers=principals["admin"],
                    json={"name": default["name"], "bands": bands, "is_default": True},
                )
            assert response is not None and response.status_code < 500, (action, response.text)
            after = sealed(session)
            resealing = kind == "step" and action[2] in ("verify", "reopen")
            if not (resealing and response.status_code == 200):
                assert after == before, action
            before = after
        # What is served as verified is the seal, field for field.
        for (_, year, quarter), figure in before.items():
            served = client.get(
                f"{API}/achievements",
                headers=principals["admin"],
                params={
                    "year": year,
                    "quarter": quarter,
                    "verified_only": "true",
                    "indicator": figure["indicator"]["code"],
                },
            ).json()["items"]
            assert served == [figure]
        event(f"sealed figures at the end: {min(len(before), 3)}+")
        checked, drifted = drift(session, year=YEAR)
        assert drifted == [], drifted
        assert checked == len(before)
    finally:
        session.rollback()
        outer.rollback()
        session.expire_all()
