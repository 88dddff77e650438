"""Who is who: key names folded so that lookalikes are one name, four eyes by identity, and
an audit trail that the database itself keeps append-only on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from app.core.db import make_engine
from app.core.errors import Conflict, InvalidInput
from app.core.migrations import downgrade, upgrade
from app.core.security import principal_name
from app.models import ApiKey, AuditEvent, Role
from app.services import audit
from app.services.keys import create_key, revoke_key
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Sekretaris", "sekretaris"),
        ("  Sekretaris  Dinas ", "sekretaris dinas"),
        ("ｓｅｋｒｅｔａｒｉｓ", "sekretaris"),  # full-width letters
        ("sekretaris\u00a0dinas", "sekretaris dinas"),  # a no-break space
        ("Straße", "strasse"),
    ],
)
def test_names_are_folded(typed, stored):
    assert principal_name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "sekretaris\u200b",  # zero-width space
        "sekre\u200dtaris",  # zero-width joiner
        "sekretaris\u202e",  # right-to-left override
        "sekretaris\x07",  # BEL
        "sekretaris\tdinas",
        "sekretaris\ndinas",
        "   ",
        "a" * 101,
    ],
)
def test_names_with_hidden_characters_or_out_of_bounds_are_refused(typed):
    with pytest.raises(InvalidInput):
        principal_name(typed)


def test_lookalike_key_names_are_one_name(session):
    create_key(session, "sekretaris", Role.verifier)
    for lookalike in ("Sekretaris", "SEKRETARIS", "ｓｅｋｒｅｔａｒｉｓ"):
        with pytest.raises(Conflict):
            create_key(session, lookalike, Role.verifier)
    with pytest.raises(InvalidInput):
        create_key(session, "sekretaris\u200b", Role.verifier)
    names = session.exec(select(ApiKey.name).where(ApiKey.name.like("%sekretaris%"))).all()
    assert names == ["sekretaris"]
    assert revoke_key(session, "Sekretaris").revoked_at is not None


def test_four_eyes_compares_identities_not_names(client, session, make_key):
    """A key that wrote a quarter's data is revoked and a new key takes its name: the new
    key wrote nothing, so it may verify; the writer's identity is what the trail keeps."""
    operator = make_key(Role.operator, units=("BID_PSM",))
    checker = make_key(Role.verifier, units=("BID_PSM",), name="pemeriksa")
    kadis_1_1 = indicator_id(session, "KADIS.1.1")
    written = client.put(
        f"{API}/indicators/{kadis_1_1}/realizations/2025/1",
        headers=checker,
        json={"values": {"psks_diberdayakan": 30}},
    )
    assert written.status_code == 200, written.text
    wrote = session.exec(select(AuditEvent).where(AuditEvent.entity == "data_value")).all()
    checker_key = session.exec(select(ApiKey).where(ApiKey.name == "pemeriksa")).one()
    assert {e.actor_id for e in wrote} == {f"key:{checker_key.id}"}
    submit = client.post(f"{API}/periods/2025/1/units/BID_PSM/submit", headers=operator)
    assert submit.status_code == 200, submit.text

    refused = client.post(f"{API}/periods/2025/1/units/BID_PSM/verify", headers=checker)
    assert assert_problem(refused, 409, "self_verification")["writers"] == ["pemeriksa"]

    revoke_key(session, "pemeriksa")
    checker_key.name = "pemeriksa-lama"  # the name is free again; the identity stays
    session.add(checker_key)
    session.flush()
    successor = make_key(Role.verifier, name="pemeriksa")
    verified = client.post(f"{API}/periods/2025/1/units/BID_PSM/verify", headers=successor)
    assert verified.status_code == 200, verified.text


def test_events_before_identities_are_matched_by_name(session):
    """Events recorded before 0006 carry a name only; four eyes still matches them."""
    from app.core.security import Principal, PrincipalKind
    from app.schemas.workflow import Step
    from app.services.workflow import Move, Writers, four_eyes

    principal = Principal(PrincipalKind.key, 7, "sekretaris", Role.verifier)
    legacy = Writers(names=frozenset({"sekretaris"}), unidentified_names=frozenset({"sekretaris"}))
    assert four_eyes(Move(principal, Step.verify, "BID_PSM", 2025, 1, legacy)) is not None
    identified = Writers(identities=frozenset({"key:8"}), names=frozenset({"sekretaris"}))
    assert four_eyes(Move(principal, Step.verify, "BID_PSM", 2025, 1, identified)) is None
    own = Writers(identities=frozenset({"key:7"}), names=frozenset({"sekretaris"}))
    assert four_eyes(Move(principal, Step.verify, "BID_PSM", 2025, 1, own)) is not None
    assert four_eyes(Move(principal, Step.submit, "BID_PSM", 2025, 1, own)) is None


def test_the_database_refuses_to_change_or_delete_an_event(client, session, admin):
    client.post(
        f"{API}/units", headers=admin, json={"agency": "DINSOSP3A", "code": "T", "name": "T"}
    )
    before = session.exec(select(func.count()).select_from(AuditEvent)).one()
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == before
    last = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None and last.entity == "unit" and last.actor != "someone else"


def test_a_downgrade_keeps_a_trail_that_holds_events_unless_told(databases):
    engine = make_engine(databases.new_url("audit-downgrade"))
    try:
        upgrade(engine)
        with Session(engine) as session:
            audit.act_as(session, "cli", "admin", "cli-test")
            create_key(session, "someone", Role.reader)
            session.commit()
        for revision in ("0005", "0002", "base"):
            with pytest.raises(RuntimeError, match="allow_audit_loss"):
                downgrade(engine, revision)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() >= 1
        downgrade(engine, "base", allow_audit_loss=True)
    finally:
        engine.dispose()
