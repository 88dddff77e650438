"""`iki users`: a person created on the command line signs in on the pages, must change the
one-time password first, and is disabled on the command line (on both databases)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import cli
from app.main import app
from app.models import AuditEvent, Person
from tests.pages.test_sign_in import NEW_PASSWORD, csrf, sign_in
from tests.test_cli import settings_of_the_environment


@pytest.fixture
def users(committed_engine):
    """`iki users ...` on the test's own database."""
    url = committed_engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def run(*args: str, **env: str):
        with settings_of_the_environment():
            return runner.invoke(cli, ["users", *args], env={"DATABASE_URL": url, **env})

    return run


def test_a_person_created_on_the_command_line_signs_in_and_is_disabled(users, committed_engine):
    created = users("create", "--name", "Operator PSM", "--role", "operator", "--unit", "BID_PSM")
    assert created.exit_code == 0, created.stderr
    password = created.stdout.strip()
    assert len(password) >= 12 and "\n" not in password
    assert users("create", "--name", "x", "--role", "operator").exit_code == 1  # no unit
    again = users("create", "--name", "operator psm", "--role", "admin")
    assert again.exit_code == 1 and "already exists" in again.stderr

    with TestClient(app) as client:
        assert sign_in(client, "operator psm", "salah-sekali-xx").status_code == 401
        assert sign_in(client, "operator psm", password).headers["location"] == "/ganti-sandi"
        form = {"csrf_token": csrf(client, "/ganti-sandi"), "current": password}
        form |= {"new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        assert client.post("/ganti-sandi", data=form).status_code == 200
        assert "BID_PSM" in client.get("/").text

        listing = users("list").stdout.splitlines()
        assert listing[0].split("\t")[:3] == ["name", "role", "units"]
        row = listing[1].split("\t")
        assert row[:3] == ["operator psm", "operator", "BID_PSM"] and row[-1] == "-"
        assert row[-2] != "-"  # the password was changed
        assert password not in "\n".join(listing)

        assert users("disable", "--name", "Operator PSM").exit_code == 0
        assert client.get("/", follow_redirects=False).headers["location"] == "/masuk"
    assert users("list").stdout.splitlines()[1].split("\t")[-1] != "-"
    assert users("disable", "--name", "nobody").exit_code == 1

    with Session(committed_engine) as session:
        person = session.exec(select(Person)).one()
        assert person.password_hash.startswith("$argon2id$")
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "person")).all()
    assert [(e.action, e.actor, e.actor_id) for e in events] == [
        ("create", "cli", None),
        ("update", "operator psm", f"person:{person.id}"),
        ("update", "cli", None),
    ]


def test_a_one_time_password_may_be_given(users):
    chosen = users(
        "create", "--name", "kadis", "--role", "verifier", "--prompt-password",
        IKI_USER_PASSWORD="pilihan-admin-1",
    )  # fmt: skip
    assert chosen.exit_code == 0, chosen.stderr
    assert chosen.stdout == ""  # nothing to show: the admin chose it
    with TestClient(app) as client:
        assert sign_in(client, "kadis", "pilihan-admin-1").headers["location"] == "/ganti-sandi"
    short = users("create", "--name", "x", "--role", "viewer", "--prompt-password",
                  IKI_USER_PASSWORD="pendek")  # fmt: skip
    assert short.exit_code == 1 and "at least 10" in short.stderr
