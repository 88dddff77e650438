"""What every page shares: the templates, the page route class (CSRF on every form, refusals
as pages in words), the signed-in person as a dependency, and the writing transaction audited
under their name.

A page is a route of `page_router()`. Its handler asks for `Person` (the signed-in person:
anyone else is sent to /masuk) and calls the same services as the API with
`person.principal`; a service's refusal (`AppError`) becomes a page saying in words what the
API's problem says, with the problem's status. A form that must show a refusal beside its
fields catches the `AppError` itself and uses `refusal_words`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from app.core.config import get_settings, megabytes
from app.core.db import get_session, get_write_session
from app.core.errors import AppError
from app.core.security import refusal
from app.models import Capability
from app.services import audit
from app.services.documents import indonesian_number
from app.services.people import SignedIn, resolve_session

SESSION_COOKIE = "iki_session"
CSRF_COOKIE = "iki_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

templates = Environment(
    loader=PackageLoader("app", "templates/pages"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# Numbers as the documents write them: "1.234,50" (`{{ value|number(2) }}`).
templates.filters["number"] = indonesian_number


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    capability: Capability


NAVIGATION = (
    NavItem("/dasbor", "Dasbor", Capability.read_achievements),
    NavItem("/verifikasi", "Meja verifikasi", Capability.read_data),
    NavItem("/isian", "Isian realisasi", Capability.enter_data),
)
"""The header's links; each shown to those holding its capability."""


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
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
    signed_in: SignedIn | None = context.get("signed_in")
    navigation = (
        [item for item in NAVIGATION if signed_in.principal.can(item.capability)]
        if signed_in is not None
        else []
    )
    html = templates.get_template(template).render(
        {"signed_in": None, "navigation": navigation, "path": request.url.path} | context,
        csrf_field=CSRF_FIELD,
        csrf_token=token,
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if new:
        set_cookie(response, CSRF_COOKIE, token)
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# Refusals in words -----------------------------------------------------------------------

STATES = {
    "open": "terbuka",
    "submitted": "diajukan",
    "returned": "dikembalikan",
    "verified": "terverifikasi",
    "mixed": "campuran",
}
"""The workflow states as the pages name them."""

STEPS = {
    "submit": "ajukan",
    "verify": "verifikasi",
    "return": "kembalikan",
    "reopen": "buka kembali",
}

_TITLES = {
    400: "Permintaan tidak dapat diproses",
    401: "Perlu masuk",
    403: "Tidak berwenang",
    404: "Tidak ditemukan",
    408: "Waktu habis",
    409: "Ditolak",
    412: "Data sudah berubah",
    413: "Terlalu besar",
    415: "Jenis berkas tidak didukung",
    422: "Isian tidak valid",
    429: "Terlalu banyak percobaan",
    503: "Layanan sedang sibuk",
}

_FIELD_TYPES = {
    "not_a_number": "harus berupa angka",
    "not_finite": "harus berupa angka terhingga",
    "not_an_integer": "harus bilangan bulat",
    "too_long": "terlalu panjang",
    "unknown_variable": "bukan variabel instansi ini",
    "unsafe_link": "harus berupa tautan http(s) dengan nama host, atau rujukan tanpa tautan",
    "control_character": "memuat karakter kendali",
    "invalid_field": "harus berupa teks",
    "period_locked": "triwulannya terkunci (diajukan atau terverifikasi)",
    # What an import refuses in a row
    "ambiguous_number": "angka bertitik ribuan tidak jelas: tulis tanpa pemisah ribuan",
    "date_not_number": "berisi tanggal atau jam, bukan angka: ubah format selnya menjadi angka",
    "missing_field": "kolom wajib kosong",
    "unknown_field": "kolom tidak dikenal",
    "invalid_year": "tahun harus bilangan bulat",
    "invalid_quarter": "triwulan harus 1, 2, 3 atau 4",
    "year_not_in_decree": "tidak ada SK untuk tahun itu",
    "duplicate_row": "variabel dan periode yang sama sudah ada di baris lain",
    "invalid_row": "baris tidak dapat dibaca",
    "invalid_text": "bukan teks yang sah",
}

_COLUMNS = {
    "variable": "variabel",
    "year": "tahun",
    "quarter": "triwulan",
    "value": "nilai",
    "note": "catatan",
    "evidence": "bukti",
}
"""The columns of an import, as a refused row names them."""

_FIELD_PARTS = {"note": "catatan", "evidence": "bukti"}
"""The parts of a variable's row that a field path may start with (`note.<code>`), as
named beside the value's own errors."""


def _field_words(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type") or "")
    message = str(error.get("message") or "")
    if kind == "out_of_range":
        for english, words in (("at least", "paling kecil"), ("at most", "paling besar")):
            if english in message:
                return f"harus {words} {message.split(english, 1)[1].strip()}"
    return _FIELD_TYPES.get(kind, message)


@dataclass(frozen=True)
class RefusalWords:
    """A problem as a page shows it: a title, sentences, the findings it lists (their
    messages are already in Indonesian), and a message per field for inline errors (by the
    field's last name, e.g. the variable code: `values.x`, `note.x` and `evidence.x` are all
    said beside `x`)."""

    status: int
    code: str
    title: str
    sentences: list[str]
    findings: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def refusal_words(error: AppError) -> RefusalWords:
    """What the API's problem for `error` says, in Indonesian."""
    extra = error.extra
    code = error.code
    title = _TITLES.get(error.status_code, "Ditolak")
    sentences: list[str]
    if code == "self_verification":
        writers = ", ".join(extra.get("writers") or []) or "Anda"
        sentences = [
            "Prinsip empat mata: Anda ikut menulis data, target atau definisi yang menjadi "
            "dasar triwulan ini, sehingga verifikator lain yang harus memverifikasinya.",
            f"Yang menulis: {writers}.",
        ]
    elif code == "quality_errors":
        sentences = [
            f"Ada {extra.get('total', 0)} temuan kualitas data berderajat galat yang belum "
            "dijelaskan. Perbaiki datanya, atau tulis penjelasan untuk setiap temuan."
        ]
    elif code == "invalid_transition":
        state = STATES.get(str(extra.get("state")), str(extra.get("state")))
        allowed = [STEPS.get(s, s) for s in extra.get("allowed") or []]
        sentences = [
            f"Triwulan ini berstatus {state}: langkah itu tidak dapat dilakukan.",
            f"Langkah yang mungkin sekarang: {', '.join(allowed) or 'tidak ada'}.",
        ]
    elif code == "period_locked":
        sentences = [
            "Triwulan ini terkunci (diajukan atau terverifikasi): datanya tidak dapat diubah "
            "sampai dikembalikan atau dibuka kembali."
        ]
    elif code == "precondition_failed":
        sentences = [
            "Data triwulan ini diubah orang lain sejak halaman ini dibuka. Muat ulang "
            "halamannya, periksa nilainya, lalu simpan lagi."
        ]
    elif code == "forbidden":
        sentences = ["Peran Anda tidak berwenang melakukan ini, atau unit ini bukan unit Anda."]
    elif code in ("not_found", "year_not_in_decree"):
        sentences = ["Yang diminta tidak ada (atau tidak ada SK untuk tahun itu)."]
    elif code == "busy":
        sentences = ["Layanan sedang sibuk. Coba lagi sebentar lagi."]
    elif code == "payload_too_large":
        limit = extra.get("limit")
        most = f" (batasnya {megabytes(limit)})" if isinstance(limit, int) else ""
        sentences = [
            f"Berkas atau isian yang dikirim terlalu besar{most}. Perkecil berkasnya, atau "
            "kirim datanya dalam beberapa bagian."
        ]
    elif code == "request_timeout":
        sentences = ["Pengiriman terhenti atau terlalu lama. Periksa sambungan, lalu kirim lagi."]
    elif code == "concurrent_write":
        sentences = [
            "Nilai yang sama disimpan orang lain pada saat yang sama. Muat ulang halamannya, "
            "periksa nilainya, lalu simpan lagi."
        ]
    elif code == "import_rejected":
        rejected = extra.get("rejected", 0)
        sentences = [
            f"{rejected} baris ditolak, sehingga tidak ada yang disimpan. Perbaiki baris "
            "berikut lalu unggah lagi."
        ]
        if extra.get("errors_total"):
            sentences.append(f"Yang ditampilkan {len(extra.get('errors') or [])} yang pertama.")
    else:
        sentences = ["Permintaan ditolak."]
    fields: dict[str, str] = {}
    for e in extra.get("errors") or []:
        if not isinstance(e, Mapping):
            continue
        if code == "import_rejected":  # a refused row: its number, variable and column
            variable = f" ({e['variable']})" if e.get("variable") else ""
            column = _COLUMNS.get(str(e.get("field")), str(e.get("field")))
            fields[f"baris {e.get('row')}{variable}, {column}"] = _field_words(
                {"type": e.get("code"), "message": e.get("message")}
            )
            continue
        part, _, name = str(e.get("field", "")).rpartition(".")
        words = _field_words(e)
        if part in _FIELD_PARTS:
            words = f"{_FIELD_PARTS[part]} {words}"
        fields[name] = f"{fields[name]}; {words}" if name in fields else words
    if code == "invalid_input" and not fields and extra.get("field"):
        fields = {str(extra["field"]): error.detail}
    return RefusalWords(
        status=error.status_code,
        code=code,
        title=title,
        sentences=sentences,
        findings=list(extra.get("findings") or []),
        fields=fields,
    )


# The signed-in person --------------------------------------------------------------------


class SignInRequired(Exception):
    """No live session: the page sends the browser to /masuk."""


class PasswordChangeRequired(Exception):
    """The first sign-in's temporary password: the page sends the browser to /ganti-sandi."""


ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]


def signed_in_of(request: Request, session: Session) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    return resolve_session(session, token) if token else None


def current_person(request: Request, session: ReadSession) -> SignedIn:
    """The signed-in person, checked at every request (a disabled person or an ended
    session goes back to /masuk); one who must change the password goes there first."""
    signed_in = signed_in_of(request, session)
    if signed_in is None:
        raise SignInRequired
    if signed_in.person.must_change_password:
        raise PasswordChangeRequired
    request.state.signed_in = signed_in  # for a refusal's page header
    return signed_in


Person = Annotated[SignedIn, Depends(current_person)]


def need(signed_in: SignedIn, capability: Capability) -> None:
    """Refuse (403, as the API words it) a person whose role lacks `capability`."""
    if not signed_in.principal.can(capability):
        raise refusal(signed_in.principal, capability)


def page_write(request: Request, session: WriteSession, signed_in: Person) -> Iterator[Session]:
    """A page's writing transaction, as the API's: committed when the page returns, rolled
    back when it raises; every change audited under the signed-in person's name."""
    principal = signed_in.principal
    audit.act_as(
        session, principal.name, str(principal.role), correlation_id.get(), principal.identity
    )
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


PageWrite = Annotated[Session, Depends(page_write, scope="function")]


# The route class -------------------------------------------------------------------------


def _csrf_ok(request: Request, sent: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(
        cookie
        and isinstance(sent, str)
        and sent
        and secrets.compare_digest(cookie.encode(), sent.encode())
    )


def to_sign_in() -> RedirectResponse:
    response = see_other("/masuk")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def error_page(request: Request, words: RefusalWords) -> Response:
    """A refusal as a page, with the header of the person who was refused (if known)."""
    return render(
        request,
        "error.html",
        status_code=words.status,
        title=words.title,
        words=words,
        signed_in=getattr(request.state, "signed_in", None),
    )


def refusal_page(route: Any, request: Request, error: AppError) -> Response | None:
    """A refusal made before a page's route ran (the request guard's: a body too large or
    too slow, a busy worker), as a page in words; None for a route that is no page's."""
    if not isinstance(getattr(route, "original_route", route), PageRoute):
        return None
    return error_page(request, refusal_words(error))


CSRF_REFUSED = RefusalWords(
    status=403,
    code="csrf",
    title="Formulir ditolak",
    sentences=[
        "Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halamannya "
        "lalu kirim lagi."
    ],
)


class PageRoute(APIRoute):
    """The route class of the pages: every form (any method but GET, HEAD and OPTIONS)
    must carry the CSRF token of its page, equal to the `iki_csrf` cookie (double submit),
    or it is refused with 403 before the handler runs; a refusal raised by a service is
    answered as a page in words with the problem's status. Pages read forms, never JSON:
    the API's `JSONRoute` has nothing to check here."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            if request.method not in SAFE_METHODS:
                form = await request.form()  # cached: the handler reads the same form
                if not _csrf_ok(request, form.get(CSRF_FIELD)):
                    return error_page(request, CSRF_REFUSED)
            try:
                return await handler(request)
            except SignInRequired:
                return to_sign_in()
            except PasswordChangeRequired:
                return see_other("/ganti-sandi")
            except AppError as error:
                refused = error_page(request, refusal_words(error))
                refused.headers.update(error.headers or {})  # e.g. Retry-After of a 503
                return refused
            except RequestValidationError as error:
                fields = {
                    str(e["loc"][-1]): str(e.get("msg", "")) for e in error.errors() if e["loc"]
                }
                words = RefusalWords(
                    422, "validation_error", _TITLES[422], ["Alamat atau isian tidak valid."],
                    fields=fields,
                )  # fmt: skip
                return error_page(request, words)

        return page


def page_router() -> APIRouter:
    """A router of pages: outside the OpenAPI document, with the page route class."""
    return APIRouter(include_in_schema=False, route_class=PageRoute)
