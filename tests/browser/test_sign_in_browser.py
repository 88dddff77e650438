"""Signing in, in Chromium: the forced change of a first password, Beranda, signing out, a
wrong password, the session cookie's flags, the throttle, a disabled person; screenshots of
the pages at both widths and their accessibility (axe-core)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.models import Role
from tests.browser.helpers import (
    FAILURE_LIMIT,
    NEW_PASSWORD,
    Account,
    LiveServer,
    assert_fits_its_width,
    check_a11y,
    shoot,
    sign_in,
    sign_out,
    submit,
)

SESSION_COOKIE = "iki_session"


def session_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def test_a_first_sign_in_changes_the_password_lands_on_beranda_and_signs_out(
    page: Page, live_server: LiveServer
):
    name = "operator psm baru"
    # As an administrator does: the CLI prints the one-time password, handed to the person.
    first = live_server.cli("users", "create", "--name", name, "--role", "operator",
                            "--unit", "BID_PSM").strip()  # fmt: skip
    page.goto("/masuk")
    check_a11y(page)

    assert sign_in(page, name, first).status == 200
    expect(page).to_have_url(f"{live_server.base}/ganti-sandi")
    expect(page.locator(".note")).to_contain_text("masuk pertama")
    # Until the password is changed, Beranda leads back to the change.
    page.goto("/")
    expect(page).to_have_url(f"{live_server.base}/ganti-sandi")
    check_a11y(page)
    shoot(page, "ganti-sandi")

    page.get_by_label("Kata sandi saat ini").fill(first)
    page.get_by_label("Kata sandi baru (paling sedikit 10 karakter)").fill(NEW_PASSWORD)
    page.get_by_label("Ulangi kata sandi baru").fill(NEW_PASSWORD)
    assert submit(page, "Simpan").status == 200
    expect(page).to_have_url(f"{live_server.base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Beranda")
    main = page.get_by_role("main")
    expect(main).to_contain_text(name)
    expect(main).to_contain_text("BID_PSM — Bidang Pemberdayaan Sosial dan Masyarakat")
    expect(page.get_by_role("banner")).to_contain_text(f"{name} (operator)")
    check_a11y(page)

    sign_out(page)
    expect(page).to_have_url(f"{live_server.base}/masuk")
    page.goto("/")
    expect(page).to_have_url(f"{live_server.base}/masuk")
    # The one-time password opens nothing now; the new one does.
    assert sign_in(page, name, first).status == 401
    assert sign_in(page, name, NEW_PASSWORD).status == 200
    expect(page).to_have_url(f"{live_server.base}/")


def test_a_wrong_password_is_refused_on_the_page(page: Page, live_server: LiveServer):
    account = live_server.person(Role.verifier)
    refused = sign_in(page, account.name, "bukan-sandinya-sama-sekali")
    assert refused.status == 401
    expect(page).to_have_url(f"{live_server.base}/masuk")
    expect(page.get_by_role("alert")).to_have_text("Nama atau kata sandi salah.")
    expect(page.get_by_label("Nama pengguna")).to_have_value(account.name)
    expect(page.get_by_label("Kata sandi", exact=True)).to_have_value("")
    assert session_cookie(page) is None
    check_a11y(page)
    shoot(page, "masuk-salah")


def test_sign_in_and_beranda_at_each_width(page_each_width: Page, viewer: Account):
    page = page_each_width
    page.goto("/masuk")
    expect(page.get_by_role("heading", level=1)).to_have_text("Masuk")
    assert_fits_its_width(page)
    check_a11y(page)
    shoot(page, "masuk")

    assert sign_in(page, viewer.name, viewer.password).status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Beranda")
    expect(page.get_by_role("button", name="Keluar")).to_be_visible()
    assert_fits_its_width(page)
    check_a11y(page)
    shoot(page, "beranda")


def test_the_session_cookie_is_httponly_and_samesite(page: Page, viewer: Account):
    sign_in(page, viewer.name, viewer.password)
    cookie = session_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # served over plain HTTP here (COOKIE_SECURE is off)
    # HttpOnly as the browser keeps it: the page's scripts cannot read the session.
    assert SESSION_COOKIE not in page.evaluate("document.cookie")


def test_failed_sign_ins_are_throttled_even_with_the_right_password(
    page: Page, live_server: LiveServer
):
    account = live_server.person(Role.operator, ("BID_PSM",))
    for attempt in range(FAILURE_LIMIT):
        assert sign_in(page, account.name, f"salah-{attempt}-sekali").status == 401
    held = sign_in(page, account.name, account.password)
    assert held.status == 429 and int(held.headers["retry-after"]) >= 1
    expect(page.get_by_role("alert")).to_contain_text(
        "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam"
    )
    assert session_cookie(page) is None
    check_a11y(page)


def test_a_disabled_persons_session_stops_at_their_next_request(
    page: Page, live_server: LiveServer
):
    account = live_server.person(Role.verifier)
    sign_in(page, account.name, account.password)
    expect(page).to_have_url(f"{live_server.base}/")
    live_server.cli("users", "disable", "--name", account.name)
    page.reload()
    expect(page).to_have_url(f"{live_server.base}/masuk")
    page.goto("/")
    expect(page).to_have_url(f"{live_server.base}/masuk")
    assert sign_in(page, account.name, account.password).status == 401
