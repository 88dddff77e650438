"""What a browser test uses: the live server (its people, keys and CLI), and what it does on
a page: sign in, press a form's button, take a screenshot, check accessibility (axe-core) and
that the page fits its width. The fixtures (the server, the browser, its pages) are in
conftest.py beside this file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Response
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.db import make_engine
from app.models import Role
from app.services import audit
from app.services.keys import create_key
from app.services.people import create_person
from tests.live import ROOT

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE_WIDTH = 390
"""The phone context's width (a page narrower than 600 px is shot as `-phone`)."""

PASSWORD = "sandi-uji-peramban-1"
"""The password of the people the fixtures create (already changed, unless asked)."""
NEW_PASSWORD = "sandi-baru-peramban-2"
FAILURE_LIMIT = 3
"""Failed sign-ins allowed per name and per address a minute on the test server."""

CLI_TIMEOUT_S = 60
BLOCKING = ("serious", "critical")
"""The axe-core impacts that fail a page."""


@dataclass(frozen=True)
class Account:
    """A person who can sign in on the live server."""

    name: str
    password: str


@dataclass
class LiveServer:
    """`iki serve` on 127.0.0.1, and its database."""

    base: str
    database_url: str
    log: Path
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        return self._engine

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run `iki <args>` on the server's database, as an administrator would; its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env={**os.environ, "DATABASE_URL": self.database_url, **(env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"iki {' '.join(args)}: {done.stderr}"
        return done.stdout

    def person(
        self,
        role: Role,
        units: tuple[str, ...] = (),
        *,
        changed: bool = True,
        name: str | None = None,
    ) -> Account:
        """A new person of `role` (named `name`, else by role and a random suffix) whose
        password is PASSWORD, already changed at a first sign-in unless `changed` is False;
        created by the service `iki users create` uses."""
        name = name or f"{role.value}-{uuid.uuid4().hex[:8]}"
        with Session(self.engine) as session:
            audit.act_as(session, "cli", "admin", f"browser-tests-{uuid.uuid4().hex}")
            person = create_person(session, name, role, PASSWORD, units)
            person.must_change_password = not changed
            session.add(person)
            session.commit()
        return Account(name, PASSWORD)

    def key(self, role: Role, units: tuple[str, ...] = ()) -> dict[str, str]:
        """A new API key of `role`: the Authorization header that carries it."""
        with Session(self.engine) as session:
            audit.act_as(session, "cli", "admin", f"browser-tests-{uuid.uuid4().hex}")
            _, secret = create_key(session, f"{role.value}-{uuid.uuid4().hex[:8]}", role, units)
            session.commit()
        return {"Authorization": f"Bearer {secret}"}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def submit(page: Page, button: str) -> Response:
    """Press the form button named `button` and wait for the page it leads to; the answer to
    the form (a 303 followed: the page it led to)."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button, exact=True).click()
    answer = navigation.value
    assert answer is not None, f"pressing {button!r} led to no page"
    return answer


def sign_in(page: Page, name: str, password: str) -> Response:
    """Sign in on /masuk as a person would: type the name and the password, press Masuk.
    The answer: the page it led to (Beranda, the forced change) or /masuk's refusal."""
    page.goto("/masuk")
    page.get_by_label("Nama pengguna", exact=True).fill(name)
    page.get_by_label("Kata sandi", exact=True).fill(password)
    return submit(page, "Masuk")


def sign_out(page: Page) -> Response:
    return submit(page, "Keluar")


def width_name(page: Page) -> str:
    viewport = page.viewport_size
    assert viewport is not None
    return "phone" if viewport["width"] < 600 else "desktop"


def shoot(page: Page, name: str, keep_as: str | None = None) -> Path:
    """A full-page screenshot at `artifacts/screenshots/<name>-<desktop|phone>.png` (the
    folder CI lists); `keep_as`, a path from the repository's root (e.g.
    `docs/screenshots/dasbor-desktop.png`), also gets a copy."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width_name(page)}.png"
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    if keep_as is not None:
        kept = ROOT / keep_as
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kept)
    return path


@cache
def _axe() -> Axe:
    return Axe()  # reads the axe-core script the package bundles, once


def violations(page: Page) -> list[dict]:
    """The serious and critical axe-core violations of the page as it is now."""
    found = _axe().run(page).response["violations"]
    return [v for v in found if v.get("impact") in BLOCKING]


def check_a11y(page: Page) -> None:
    """Fail when axe-core finds a serious or critical violation on the page; the failure
    lists each, with the elements it concerns."""
    blocking = violations(page)
    if not blocking:
        return
    lines = [f"{len(blocking)} serious or critical accessibility violation(s) on {page.url}:"]
    for violation in blocking:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(
            f"    {node['target']}: {node.get('failureSummary', '')}"
            for node in violation["nodes"][:5]
        )
    pytest.fail("\n".join(lines), pytrace=False)


def assert_fits_its_width(page: Page) -> None:
    """No horizontal scrolling of the whole page (wide tables scroll inside `.scroll`)."""
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"{page.url} is {scroll} px wide at a {client} px {width_name(page)}"
