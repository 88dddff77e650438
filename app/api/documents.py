"""Presentation of the printable documents: HTML from the Jinja2 templates in
`app/templates/` (autoescaped), PDF from that HTML with WeasyPrint, chosen by `format` or
Accept."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.core.errors import PdfUnavailable, problem_schema_responses
from app.core.text import printed

HTML = "text/html"
PDF = "application/pdf"
JSON = "application/json"

_templates = Environment(
    loader=PackageLoader("app", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=printed,
)


class DocumentFormat(StrEnum):
    """The media types a document is answered in."""

    html = "html"
    pdf = "pdf"
    json = "json"


_MEDIA = {DocumentFormat.html: HTML, DocumentFormat.pdf: PDF, DocumentFormat.json: JSON}

FormatQuery = Annotated[
    DocumentFormat | None,
    Query(description="`html` (the default), `pdf`, or (where offered) `json`; overrides Accept"),
]


def document_responses(*, json_model: type | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a document route: HTML, PDF (and JSON), or 503 without PDF."""
    content: dict[str, Any] = {
        HTML: {"schema": {"type": "string"}},
        PDF: {"schema": {"type": "string", "format": "binary"}},
    }
    ok: dict[str, Any] = {
        "description": "The document: a printable HTML page (A4 landscape), or a PDF",
        "content": content,
    }
    if json_model is not None:
        ok["model"] = json_model
        ok["description"] += ", or JSON (`format=json` or `Accept: application/json`)"
    unavailable = "PDF rendering is not available on this server (the HTML works)"
    return {200: ok, **problem_schema_responses(404, 503, descriptions={503: unavailable})}


def negotiate(
    request: Request, format_: DocumentFormat | None, offered: tuple[DocumentFormat, ...]
) -> DocumentFormat:
    """The format asked by `format`, else the best of `offered` by Accept (q-values, then the
    order of `offered`); HTML when Accept names none of them (e.g. `*/*`)."""
    if format_ is not None:
        return format_ if format_ in offered else offered[0]
    weights: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), quality)
    ranked = [
        (weights[_MEDIA[choice]], -index, choice)
        for index, choice in enumerate(offered)
        if weights.get(_MEDIA[choice], 0.0) > 0
    ]
    return max(ranked)[2] if ranked else DocumentFormat.html


def render_html(template: str, **context: Any) -> str:
    """A template rendered with `context` (every value escaped unless marked safe)."""
    return _templates.get_template(template).render(**context)


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # The documents carry everything they need: a link in the data is never fetched.
    raise ValueError(f"not fetched: {url[:100]}")


def render_pdf(html: str) -> bytes:
    """The HTML typeset as a PDF by WeasyPrint; 503 `pdf_unavailable` when it cannot load."""
    try:
        # Imported here: it needs system libraries (pango) that the HTML does without.
        from weasyprint import HTML as WeasyHTML
    except (ImportError, OSError) as error:
        raise PdfUnavailable(
            "PDF rendering needs WeasyPrint and its system libraries (pango); "
            f"ask for the HTML (format=html) instead ({type(error).__name__})"
        ) from error
    pdf = WeasyHTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def document(format_: DocumentFormat, template: str, filename: str, **context: Any) -> Response:
    """The document as an HTML page, or as a PDF named `filename`.pdf."""
    html = render_html(template, **context)
    headers = {"Vary": "Accept", "Cache-Control": "no-store"}
    if format_ == DocumentFormat.pdf:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename)
        headers["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
        return Response(render_pdf(html), media_type=PDF, headers=headers)
    return Response(html, media_type=f"{HTML}; charset=utf-8", headers=headers)
