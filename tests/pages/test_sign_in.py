"""People sign in on the pages: accounts, sessions in a cookie, CSRF, the throttle, and the
principal a person acts as (the same rules as a key's)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.errors import AppError
from app.core.security import PrincipalKind
from app.main import app
from app.models import AuditEvent, Person, PersonSession, Role
from app.schemas.workflow import PeriodStep, Step
from app.services import audit
from app.services.data_values import QuarterValues, write_realization
from app.services.people import DECOY_HASH, create_person, disable_person, resolve_session
from app.services.workflow import take_step
from tests.api.helpers import indicator_id

PASSWORD = "sandi-awal-123"
NEW_PASSWORD = "sandi-baru-4567"


def csrf(client: TestClient, page: str = "/masuk") -> str:
    """The CSRF token of a page's form (its cookie is set on the client)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, **extra: str):
    form = {"name": name, "password": password, "csrf_token": csrf(client)} | extra
    return client.post("/masuk", data=form, follow_redirects=False)


def home_with(token: str):
    """The home page asked for by a browser holding only this session cookie."""
    with TestClient(app, cookies={"iki_session": token}) as browser:
        return browser.get("/", follow_redirects=False)


def make_person(
    session: Session,
    name: str,
    role: Role = Role.verifier,
    units: tuple[str, ...] = (),
    *,
    changed: bool = True,
) -> Person:
    """A person whose password is PASSWORD (already changed, unless `changed` is False)."""
    person = create_person(session, name, role, PASSWORD, units)
    person.must_change_password = not changed
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def throttled(monkeypatch):
    monkeypatch.setattr(get_settings(), "auth_failure_limit", "5/minute")
    from app.core import security

    security.failures.reset()
    yield
    security.failures.reset()


def test_sign_in_then_home_shows_who_and_sign_out_ends_the_session(client, session):
    make_person(session, "Sekretaris Dinas", Role.verifier, ("BID_PSM",))
    assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"
    signed = sign_in(client, "sekretaris dinas")
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    assert "sekretaris dinas" in home.text and "verifier" in home.text
    assert "BID_PSM" in home.text and 'name="viewport"' in home.text
    first = client.cookies["iki_session"]
    # Signing in again from the same browser ends the session it had.
    assert sign_in(client, "sekretaris dinas").status_code == 303
    cookie = client.cookies["iki_session"]
    assert cookie != first
    assert home_with(first).headers["location"] == "/masuk"
    assert home_with(cookie).status_code == 200

    token = csrf(client, "/")
    out = client.post("/keluar", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/masuk"
    # The old cookie, sent again, opens nothing: the session ended on the server.
    assert home_with(cookie).headers["location"] == "/masuk"
    assert all(s.revoked_at is not None for s in session.exec(select(PersonSession)))


def test_the_session_cookie_is_httponly_samesite_and_secure_when_set(client, session, monkeypatch):
    make_person(session, "kabid")
    cookie = sign_in(client, "kabid").headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith("iki_session="))
    flags = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags and "secure" not in flags
    assert len(client.cookies["iki_session"]) >= 40  # a random token, not an id
    stored = session.exec(select(PersonSession)).one()
    assert client.cookies["iki_session"] not in stored.token_hash  # only its hash is kept

    monkeypatch.setattr(get_settings(), "cookie_secure", True)
    client.cookies.clear()
    secure = sign_in(client, "kabid").headers.get_list("set-cookie")
    assert all("secure" in c.lower() for c in secure)


def test_first_sign_in_forces_a_password_change_audited_under_the_person(client, session):
    person = make_person(session, "operator psm", Role.operator, ("BID_PSM",), changed=False)
    assert sign_in(client, "operator psm").headers["location"] == "/ganti-sandi"
    # Until changed, every page goes to the change.
    assert client.get("/", follow_redirects=False).headers["location"] == "/ganti-sandi"
    page = client.get("/ganti-sandi")
    assert page.status_code == 200 and "masuk pertama" in page.text

    token = csrf(client, "/ganti-sandi")
    short = {"csrf_token": token, "current": PASSWORD, "new": "pendek", "repeat": "pendek"}
    refused = client.post("/ganti-sandi", data=short)
    assert refused.status_code == 422 and "10 sampai 200" in refused.text
    wrong = {"csrf_token": token, "current": "salah-sekali", "new": NEW_PASSWORD}
    wrong["repeat"] = NEW_PASSWORD
    assert "saat ini salah" in client.post("/ganti-sandi", data=wrong).text

    good = {"csrf_token": token, "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    changed = client.post("/ganti-sandi", data=good, follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"] == "/"
    assert client.get("/").status_code == 200
    session.refresh(person)
    assert person.must_change_password is False and person.password_changed_at is not None

    event = session.exec(
        select(AuditEvent).where(AuditEvent.entity == "person", AuditEvent.action == "update")
    ).one()
    assert (event.actor, event.actor_id) == ("operator psm", f"person:{person.id}")
    assert event.after == {"must_change_password": False, "password_changed_at": event.after[
        "password_changed_at"
    ]}  # fmt: skip
    assert "password_hash" not in (event.before or {}) | (event.after or {})

    client.cookies.clear()
    assert sign_in(client, "operator psm").status_code == 401  # the old password is gone
    assert sign_in(client, "operator psm", NEW_PASSWORD).headers["location"] == "/"


def test_an_unknown_name_and_a_wrong_password_answer_alike(client, session):
    make_person(session, "bendahara")
    wrong = sign_in(client, "bendahara", "bukan-sandinya")
    unknown = sign_in(client, "bendaharb", "bukan-sandinya")
    assert wrong.status_code == unknown.status_code == 401
    assert "Nama atau kata sandi salah." in wrong.text
    assert wrong.text.replace("bendahara", "N") == unknown.text.replace("bendaharb", "N")
    assert "iki_session" not in client.cookies


def test_disabling_a_person_ends_their_session_at_the_next_request(client, session):
    make_person(session, "kasubag")
    sign_in(client, "kasubag")
    assert client.get("/").status_code == 200
    disable_person(session, "Kasubag")
    assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"
    assert sign_in(client, "kasubag").status_code == 401  # nor can they sign in again

    # The person's state is read at every request, not only the session's: a person
    # disabled by any path, their sessions left as they were, is out at once too.
    other = make_person(session, "kasi")
    sign_in(client, "kasi")
    assert client.get("/").status_code == 200
    other.disabled_at = other.created_at
    session.add(other)
    session.flush()
    assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"


def test_a_session_ends_when_idle_or_old(client, session):
    make_person(session, "staf")
    sign_in(client, "staf")
    live = session.exec(select(PersonSession)).one()
    live.last_seen_at -= timedelta(minutes=get_settings().session_idle_minutes + 1)
    session.add(live)
    session.flush()
    assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"

    sign_in(client, "staf")
    newest = session.exec(select(PersonSession).where(PersonSession.revoked_at.is_(None)))
    fresh = next(s for s in newest if s.id != live.id)
    assert client.get("/").status_code == 200
    fresh.expires_at = fresh.created_at  # past its absolute end, however recently seen
    session.add(fresh)
    session.flush()
    assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"


def test_forms_without_their_csrf_token_are_refused(client, session):
    make_person(session, "pengawas")
    client.get("/masuk")  # the cookie is set, the form field is missing
    bare = client.post("/masuk", data={"name": "pengawas", "password": PASSWORD})
    assert bare.status_code == 403 and "iki_session" not in client.cookies
    forged = {"name": "pengawas", "password": PASSWORD, "csrf_token": "x" * 43}
    assert client.post("/masuk", data=forged).status_code == 403

    sign_in(client, "pengawas")
    assert client.post("/keluar", data={}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    change = {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    assert client.post("/ganti-sandi", data=change).status_code == 403
    # A form posted from another site carries no cookie of ours: refused too.
    token = csrf(client, "/")
    client.cookies.delete("iki_csrf")
    assert client.post("/keluar", data={"csrf_token": token}).status_code == 403


def test_failed_sign_ins_are_throttled_by_name_even_with_the_right_password(
    client, session, throttled
):
    make_person(session, "kepala bidang")
    for attempt in range(5):
        assert sign_in(client, "Kepala Bidang", f"salah-{attempt}-xxxx").status_code == 401
    # A guessable password: once the name is over the limit, even the right one waits.
    held = sign_in(client, "kepala bidang")
    assert held.status_code == 429 and int(held.headers["retry-after"]) >= 1
    assert "Terlalu banyak" in held.text and "iki_session" not in client.cookies
    # The name is held from any address; another address may still sign in as another.
    make_person(session, "lain")
    with TestClient(app, client=("10.0.0.9", 5000)) as elsewhere:
        assert sign_in(elsewhere, "kepala bidang").status_code == 429
        assert sign_in(elsewhere, "lain").status_code == 303


def test_failed_sign_ins_are_throttled_by_address(client, session, throttled):
    make_person(session, "juru ukur")
    for attempt in range(5):
        assert sign_in(client, f"orang-{attempt}", "salah-sekali-xx").status_code == 401
    assert sign_in(client, "juru ukur").status_code == 429


def test_the_api_stays_bearer_only_and_the_pages_need_no_key(client, session, reader):
    make_person(session, "admin dinas", Role.admin)
    sign_in(client, "admin dinas")
    assert client.get("/").status_code == 200  # the guard lets the pages through
    assert client.get("/api/v1/agencies").status_code == 401  # a session cookie is no key
    assert client.get("/api/v1/agencies", headers=reader).status_code == 200


def test_stored_names_render_inert(client, session):
    make_person(session, '<script>alert(1)</script>"x')
    sign_in(client, '<script>alert(1)</script>"x')
    home = client.get("/").text
    assert "<script>alert" not in home and "&lt;script&gt;alert(1)&lt;/script&gt;" in home


def test_a_person_is_a_principal_of_their_role_and_four_eyes_holds(client, session, psm):
    person = make_person(session, "sekretaris", Role.verifier, ("BID_PSM",))
    sign_in(client, "sekretaris")
    signed_in = resolve_session(session, client.cookies["iki_session"])
    assert signed_in is not None
    principal = signed_in.principal
    assert principal.kind is PrincipalKind.person and principal.identity == f"person:{person.id}"
    assert principal.capabilities == Role.verifier.capabilities
    assert len(principal.unit_ids) == 1
    assert principal.may_write_unit(next(iter(principal.unit_ids)))

    # The person enters a value (the service the API calls), audited under their name ...
    audit.act_as(session, principal.name, str(principal.role), "r-1", principal.identity)
    kadis = indicator_id(session, "KADIS.1.1")
    values = QuarterValues(2025, 1, {"psks_diberdayakan": 30})
    write_realization(session, principal, kadis, values, if_match=None)
    session.flush()
    wrote = session.exec(select(AuditEvent).where(AuditEvent.entity == "data_value")).all()
    assert {(e.actor, e.actor_id) for e in wrote} == {("sekretaris", f"person:{person.id}")}
    # ... an operator submits, and four eyes refuses the person verifying it.
    submitted = client.post("/api/v1/periods/2025/1/units/BID_PSM/submit", headers=psm)
    assert submitted.status_code == 200, submitted.text
    with pytest.raises(AppError) as refused:
        take_step(
            session,
            principal,
            Step.verify,
            agency_code=None,
            unit_code="BID_PSM",
            year=2025,
            quarter=1,
            body=PeriodStep(),
        )
    assert refused.value.code == "self_verification"


def test_an_unknown_name_is_checked_against_a_hash_of_the_same_cost(session):
    """The decoy an unknown name is verified against has the parameters of a stored hash, so
    both take the same time."""
    stored = make_person(session, "bendahara baru").password_hash
    assert stored.startswith("$argon2id$")
    assert DECOY_HASH.rsplit("$", 2)[0] == stored.rsplit("$", 2)[0]
