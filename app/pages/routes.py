"""The pages' routes: `/masuk` (sign in), `/keluar` (sign out), `/ganti-sandi` (change the
password; forced at the first sign-in) and `/` (Beranda).

A signed-in person is found from the session cookie at every request (a disabled person or an
ended session is sent back to /masuk) and acts as a principal of kind `person`, with the
capabilities of their role: the same rules as the API. Every form carries a CSRF token that
must equal the `iki_csrf` cookie (double submit); a POST without it is answered 403.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import get_session, get_write_session, release_connection
from app.core.errors import InvalidInput
from app.core.jsonbody import JSONRoute
from app.core.security import failure_limit, failures, principal_name
from app.models import Unit
from app.services import audit
from app.services.people import (
    SignedIn,
    end_session,
    new_password_hash,
    resolve_session,
    set_password,
    start_session,
    verify_password,
)

SESSION_COOKIE = "iki_session"
CSRF_COOKIE = "iki_csrf"
CSRF_FIELD = "csrf_token"
SIGN_IN_REFUSED = "Nama atau kata sandi salah."

# The route class of every router (the pages read forms: it changes nothing for them).
router = APIRouter(include_in_schema=False, route_class=JSONRoute)

_templates = Environment(
    loader=PackageLoader("app", "templates/pages"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]


def _set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().cookie_secure,
    )


def _csrf(request: Request) -> tuple[str, bool]:
    """The request's CSRF token, and whether it is new (and must be set as a cookie)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) >= 32:
        return token, False
    return secrets.token_urlsafe(32), True


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page, with a CSRF token for its forms; never cached (it shows who is signed in)."""
    token, new = _csrf(request)
    html = _templates.get_template(template).render(
        {"signed_in": None} | context, csrf_field=CSRF_FIELD, csrf_token=token
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if new:
        _set_cookie(response, CSRF_COOKIE, token)
    return response


CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]


def _csrf_refused(request: Request, sent: str) -> HTMLResponse | None:
    """A 403 page when the form's CSRF token is missing or is not the cookie's."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if cookie and sent and secrets.compare_digest(cookie.encode(), sent.encode()):
        return None
    return render(
        request,
        "error.html",
        status_code=403,
        title="Formulir ditolak",
        message="Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang "
        "halamannya lalu kirim lagi.",
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _signed_in(request: Request, session: Session) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    return resolve_session(session, token) if token else None


def _to_sign_in() -> RedirectResponse:
    response = _see_other("/masuk")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _units(session: Session, signed_in: SignedIn) -> list[Unit]:
    ids = signed_in.principal.unit_ids
    if not ids:
        return []
    return list(session.exec(select(Unit).where(col(Unit.id).in_(ids)).order_by(col(Unit.code))))


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


@router.get("/masuk", response_class=HTMLResponse)
def sign_in_page(request: Request, session: ReadSession) -> Response:
    if _signed_in(request, session) is not None:
        return _see_other("/")
    return render(request, "masuk.html", title="Masuk", name="", error=None)


# The routes that hash are plain functions: FastAPI runs them in its thread pool, so the slow
# argon2 work never blocks the event loop; and they hash on a reading session, before a
# writing one (which holds SQLite's write lock) is touched.


@router.post("/masuk", response_class=HTMLResponse)
def sign_in(
    request: Request,
    read: ReadSession,
    write: WriteSession,
    csrf_token: CsrfField = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    refused = _csrf_refused(request, csrf_token)
    if refused is not None:
        return refused
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
    response = _see_other("/ganti-sandi" if person.must_change_password else "/")
    _set_cookie(response, SESSION_COOKIE, token)
    # A new CSRF token with the new session: one planted before the sign-in is of no use.
    _set_cookie(response, CSRF_COOKIE, secrets.token_urlsafe(32))
    return response


@router.post("/keluar")
def sign_out(request: Request, session: WriteSession, csrf_token: CsrfField = "") -> Response:
    refused = _csrf_refused(request, csrf_token)
    if refused is not None:
        return refused
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token)
        session.commit()
    return _to_sign_in()


@router.get("/ganti-sandi", response_class=HTMLResponse)
def change_password_page(request: Request, session: ReadSession) -> Response:
    signed_in = _signed_in(request, session)
    if signed_in is None:
        return _to_sign_in()
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
    csrf_token: CsrfField = "",
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "",
) -> Response:
    refused = _csrf_refused(request, csrf_token)
    if refused is not None:
        return refused
    signed_in = _signed_in(request, read)
    if signed_in is None:
        return _to_sign_in()
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
    return _see_other("/")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: ReadSession) -> Response:
    signed_in = _signed_in(request, session)
    if signed_in is None:
        return _to_sign_in()
    if signed_in.person.must_change_password:
        return _see_other("/ganti-sandi")
    return render(
        request,
        "beranda.html",
        title="Beranda",
        signed_in=signed_in,
        units=_units(session, signed_in),
        capabilities=sorted(signed_in.principal.capabilities),
    )
