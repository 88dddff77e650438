"""Browser tests: Debian's Chromium, driven by Playwright, on the pages of a live server.

Each pytest process (each xdist worker) that runs a browser test starts, at its first one:
- `iki serve` on 127.0.0.1 and a free port, on a database of its own (a SQLite file; a new
  PostgreSQL database when TEST_DATABASE_URL is set, dropped at the end), migrated and seeded,
  with a low limit of failed sign-ins (FAILURE_LIMIT a minute) and 127.0.0.1 as its trusted
  proxy: each test's pages send their own loopback address in X-Forwarded-For, so one test's
  failed sign-ins never hold back another's;
- one Chromium with two contexts, desktop (1280x900) and phone (390x844, mobile), kept for
  the whole run; each test gets a new page in one of them, its cookies cleared.

Every wait is bounded (the server's start, Playwright's timeouts) and the pages may ask for
nothing but the live server: any other request is aborted and fails the test. Without
Chromium the tests are skipped (`make test` installs it).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from app.models import Role
from tests.browser.helpers import FAILURE_LIMIT, PHONE_WIDTH, Account, LiveServer
from tests.conftest import DatabaseFactory
from tests.live import iki_serve, seeded_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 10_000
"""The longest Playwright waits for an element, an action, a page or an `expect`."""
expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"chromium is not installed at {CHROMIUM} (make test installs it)"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_server(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = databases.new_url("browser")
    seeded_database(url, {})
    log = tmp_path_factory.mktemp("browser") / "iki-serve.log"
    env = {
        "DATABASE_URL": url,
        "AUTH_FAILURE_LIMIT": f"{FAILURE_LIMIT}/minute",
        "TRUSTED_PROXIES": "127.0.0.1",
    }
    with ExitStack() as stack:
        try:
            process = stack.enter_context(iki_serve(env, log))
        except AssertionError as error:
            raise AssertionError(f"{error}; its log:\n{log.read_text()[-4000:]}") from None
        server = LiveServer(process.base, url, log)
        stack.callback(server.close)
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the pytest process: Debian's, never a download of Playwright's."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args, timeout=30_000)
        yield launched
        launched.close()


@dataclass
class Screen:
    """A browser context kept for the run, and the requests its pages made elsewhere."""

    context: BrowserContext
    outside: list[str] = field(default_factory=list)


def _screen(browser: Browser, base: str, **options: object) -> Screen:
    context = browser.new_context(
        base_url=base,
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        service_workers="block",
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    screen = Screen(context)

    def refuse(route: Route) -> None:
        screen.outside.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(base), refuse)
    return screen


@pytest.fixture(scope="session")
def screens(browser: Browser, live_server: LiveServer) -> Iterator[dict[str, Screen]]:
    """The desktop and the phone contexts."""
    made = {
        "desktop": _screen(browser, live_server.base, viewport={"width": 1280, "height": 900}),
        "phone": _screen(
            browser,
            live_server.base,
            viewport={"width": PHONE_WIDTH, "height": 844},
            is_mobile=True,
            has_touch=True,
        ),
    }
    yield made
    for screen in made.values():
        screen.context.close()


_addresses = itertools.count(2)


def _fresh_page(screen: Screen) -> Iterator[Page]:
    """A new page with no cookies, whose requests come from an address of its own."""
    n = next(_addresses)
    screen.context.clear_cookies()
    screen.context.set_extra_http_headers({"X-Forwarded-For": f"127.0.{n // 250}.{n % 250 + 2}"})
    screen.outside.clear()
    page = screen.context.new_page()
    try:
        yield page
    finally:
        page.close()
    assert not screen.outside, f"the pages asked for something elsewhere: {screen.outside}"


@pytest.fixture
def page(screens: dict[str, Screen]) -> Iterator[Page]:
    """A page at desktop width."""
    yield from _fresh_page(screens["desktop"])


@pytest.fixture
def phone(screens: dict[str, Screen]) -> Iterator[Page]:
    """A page at phone width."""
    yield from _fresh_page(screens["phone"])


@pytest.fixture(params=["desktop", "phone"])
def page_each_width(request: pytest.FixtureRequest, screens: dict[str, Screen]) -> Iterator[Page]:
    """A page at desktop width, then (the test again) at phone width."""
    yield from _fresh_page(screens[request.param])


# The people of a quarter, one of each per pytest process: their passwords already changed.


@pytest.fixture(scope="session")
def operator(live_server: LiveServer) -> Account:
    """An operator of Bidang Pemberdayaan Sosial dan Masyarakat (BID_PSM)."""
    return live_server.person(Role.operator, ("BID_PSM",), name="operator psm")


@pytest.fixture(scope="session")
def verifier_a(live_server: LiveServer) -> Account:
    return live_server.person(Role.verifier, name="sekretaris dinas")


@pytest.fixture(scope="session")
def verifier_b(live_server: LiveServer) -> Account:
    return live_server.person(Role.verifier, name="kepala dinas")


@pytest.fixture(scope="session")
def viewer(live_server: LiveServer) -> Account:
    """The leadership: reads definitions and capaian."""
    return live_server.person(Role.viewer, name="pimpinan")
