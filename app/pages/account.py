"""The pages of the account: `/masuk` (sign in), `/keluar` (sign out), `/ganti-sandi`
(change the password; forced at the first sign-in) and `/` (Beranda).

A signed-in person is found from the session cookie at every request (a disabled person or an
ended session is sent back to /masuk) and acts as a principal of kind `person`, with the
capabilities of their role: the same rules as the API. Every form carries a CSRF token that
must equal the `iki_csrf` cookie (double submit, checked by the page route class).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app.core.db import release_connection
from app.core.errors import InvalidInput
from app.core.security import failure_limit, failures, principal_name
from app.models import Unit
from app.pages.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Person,
    ReadSession,
    WriteSession,
    page_router,
    render,
    see_other,
    set_cookie,
    signed_in_of,
    to_sign_in,
)
from app.services import audit
from app.services.people import (
    SignedIn,
    end_session,
    new_password_hash,
    set_password,
    start_session,
    verify_password,
)

SIGN_IN_REFUSED = "Nama atau kata sandi salah."

router = page_router()


def _units(session: Session, signed_in: SignedIn) -> list[Unit]:
    ids = signed_in.principal.unit_ids
    if not ids:
        return []
    return list(session.exec(select(Unit).where(col(Unit.id).in_(ids)).order_by(col(Unit.code))))


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


@router.get("/masuk", response_class=HTMLResponse)
def sign_in_page(request: Request, session: ReadSession) -> Response:
    if signed_in_of(request, session) is not None:
        return see_other("/")
    return render(request, "masuk.html", title="Masuk", name="", error=None)


# The routes that hash are plain functions: FastAPI runs them in its thread pool, so the slow
# argon2 work never blocks the event loop; and they hash on a reading session, before a
# writing one (which holds SQLite's write lock) is touched.


@router.post("/masuk", response_class=HTMLResponse)
def sign_in(
    request: Request,
    read: ReadSession,
    write: WriteSession,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        throttled_name = principal_name(name)
    except InvalidInput:
        throttled_name = name[:100]
    address = _address(request)
    limit = failure_limit()
    wait = failures.sign_in_wait(limit, address, throttled_name) if limit else None
    if wait is not None:
        # Refused even with the right password: people's passwords can be guessed.
        return render(
            request,
            "masuk.html",
            status_code=429,
            headers={"Retry-After": str(wait)},
            title="Masuk",
            name=name,
            error=f"Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {wait} detik.",
        )
    person = verify_password(read, name, password)
    release_connection(read)
    if person is None:
        if limit is not None:
            failures.fail_sign_in(limit, address, throttled_name)
        return render(
            request, "masuk.html", status_code=401, title="Masuk", name=name,
            error=SIGN_IN_REFUSED,
        )  # fmt: skip
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a browser holds one session: the one it had ends
        end_session(write, previous)
    token = start_session(write, person)
    write.commit()
    response = see_other("/ganti-sandi" if person.must_change_password else "/")
    set_cookie(response, SESSION_COOKIE, token)
    # A new CSRF token with the new session: one planted before the sign-in is of no use.
    set_cookie(response, CSRF_COOKIE, secrets.token_urlsafe(32))
    return response


@router.post("/keluar")
def sign_out(request: Request, session: WriteSession) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token)
        session.commit()
    return to_sign_in()


@router.get("/ganti-sandi", response_class=HTMLResponse)
def change_password_page(request: Request, session: ReadSession) -> Response:
    signed_in = signed_in_of(request, session)
    if signed_in is None:
        return to_sign_in()
    return render(request, "ganti_sandi.html", **_password_context(signed_in, None))


def _password_context(signed_in: SignedIn, error: str | None) -> dict[str, Any]:
    return {
        "title": "Ganti kata sandi",
        "signed_in": signed_in,
        "forced": signed_in.person.must_change_password,
        "error": error,
    }


_PASSWORD_ERRORS = {
    "current": "Kata sandi saat ini salah.",
    "password": "Kata sandi baru harus 10 sampai 200 karakter.",
    "new": "Kata sandi baru harus berbeda dari yang sekarang.",
}


@router.post("/ganti-sandi", response_class=HTMLResponse)
def change_password_submit(
    request: Request,
    read: ReadSession,
    write: WriteSession,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "",
) -> Response:
    signed_in = signed_in_of(request, read)
    if signed_in is None:
        return to_sign_in()
    error: str | None = None
    if new != repeat:
        error = "Kedua isian kata sandi baru tidak sama."
    else:
        try:
            password_hash = new_password_hash(signed_in.person, current, new)
        except InvalidInput as refusal:
            error = _PASSWORD_ERRORS.get(refusal.extra.get("field", ""), refusal.detail)
    release_connection(read)
    if error is not None:
        context = _password_context(signed_in, error)
        return render(request, "ganti_sandi.html", status_code=422, **context)
    principal = signed_in.principal
    audit.act_as(
        write, principal.name, str(principal.role), correlation_id.get(), principal.identity
    )
    set_password(write, principal.id, password_hash)
    write.commit()
    return see_other("/")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: ReadSession, signed_in: Person) -> Response:
    return render(
        request,
        "beranda.html",
        title="Beranda",
        signed_in=signed_in,
        units=_units(session, signed_in),
        capabilities=sorted(signed_in.principal.capabilities),
    )
