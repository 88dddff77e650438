"""Presentation of the printable documents: HTML from the Jinja2 templates in
`app/templates/` (autoescaped), PDF from that HTML with WeasyPrint, chosen by `format` or
Accept.

PDFs are typeset in a pool of worker processes (PDF_WORKERS, the number of cores by
default), at a lower CPU priority: WeasyPrint is CPU-bound Python, which in the server's own
process would hold the interpreter's lock and starve every other request. At most
PDF_WORKERS PDFs are typeset at once and as many more wait for a worker; a PDF asked beyond
that is answered 503 `busy` with Retry-After at once, before its data are loaded.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from enum import StrEnum
from importlib.util import find_spec
from types import TracebackType
from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlmodel import Session

from app.api.typesetting import render_html, start_worker, typeset
from app.core.config import get_settings
from app.core.db import release_connection
from app.core.errors import Busy, PdfUnavailable, problem_schema_responses
from app.services import documents

HTML = "text/html"
PDF = "application/pdf"
JSON = "application/json"


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
    unavailable = (
        "PDF rendering is not available on this server (`pdf_unavailable`; the HTML works), "
        "or every PDF worker is taken (`busy`; retry after `Retry-After` seconds)"
    )
    return {
        200: ok,
        **problem_schema_responses(
            404, 503, descriptions={503: unavailable}, retried=frozenset({503})
        ),
    }


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


# A worker is replaced after this many PDFs, so whatever WeasyPrint keeps is given back.
TASKS_PER_WORKER = 100
# The longest a request waits for its PDF (a document of this service takes seconds).
PDF_WAIT_SECONDS = 300
RETRY_PDF_AFTER = "5"


class PdfWorkers:
    """The pool of PDF worker processes, started with the first PDF, and its slots: one per
    worker and one per waiting place, taken without waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._slots: threading.BoundedSemaphore | None = None

    def take_slot(self) -> threading.BoundedSemaphore:
        """A slot of the pool, or 503 busy at once when every one is taken."""
        with self._lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(2 * get_settings().pdf_workers)
            slots = self._slots
        if not slots.acquire(blocking=False):
            raise Busy(
                "Every PDF worker is busy; retry in a moment (the HTML is served at once)",
                headers={"Retry-After": RETRY_PDF_AFTER},
            )
        return slots

    def submit(self, template: str, context: dict[str, Any]) -> Future[bytes]:
        with self._lock:
            if self._pool is None:
                # Workers start from a clean server process (forkserver, else spawn), never a
                # fork of this one with its threads and open connections.
                methods = multiprocessing.get_all_start_methods()
                method = "forkserver" if "forkserver" in methods else "spawn"
                processes = multiprocessing.get_context(method)
                if method == "forkserver":  # what each worker needs, and nothing else
                    processes.set_forkserver_preload([typeset.__module__])
                self._pool = ProcessPoolExecutor(
                    max_workers=get_settings().pdf_workers,
                    mp_context=processes,
                    initializer=start_worker,
                    initargs=(os.getpid(),),
                    max_tasks_per_child=TASKS_PER_WORKER,
                )
            pool = self._pool
        return pool.submit(typeset, template, context)

    def shutdown(self) -> None:
        """Stop the workers (when the server stops): they finish what they typeset, and
        exit. uvicorn ends on the signal it was stopped by, without running the exit hooks
        that would otherwise stop them."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def discard(self) -> None:
        """Forget a broken pool (a worker died): the next PDF starts a new one."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


pdf_workers = PdfWorkers()


# The data of the PDFs let in are loaded one at a time: a burst of them then takes one share
# of the interpreter's lock beside the other requests, not one share each.
_loading = threading.Lock()


class Rendering:
    """The rendering of one document, entered before its data are loaded: for a PDF it
    takes a slot of the PDF workers (503 busy at once when none is free), so a burst of PDFs
    neither loads their data nor renders their HTML beyond what the workers can take."""

    def __init__(self, format_: DocumentFormat) -> None:
        self.format = format_
        self._slot: threading.BoundedSemaphore | None = None
        self._loading = False

    def __enter__(self) -> Rendering:
        if self.format == DocumentFormat.pdf:
            if find_spec("weasyprint") is None:
                raise _unavailable("ModuleNotFoundError")
            self._slot = pdf_workers.take_slot()
            self._loading = _loading.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loaded()
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    def _loaded(self) -> None:
        if self._loading:
            _loading.release()
            self._loading = False

    def document(self, template: str, filename: str, **context: Any) -> Response:
        """The document as an HTML page, or as a PDF named `filename`.pdf."""
        headers = {"Vary": "Accept", "Cache-Control": "no-store"}
        if self.format != DocumentFormat.pdf:
            html = render_html(template, **context)
            return Response(html, media_type=f"{HTML}; charset=utf-8", headers=headers)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename)
        headers["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
        return Response(self._typeset(template, context), media_type=PDF, headers=headers)

    def _typeset(self, template: str, context: dict[str, Any]) -> bytes:
        slot = self._slot
        assert slot is not None, "a PDF is rendered inside `with Rendering(...)`"
        self._loaded()
        try:
            future = pdf_workers.submit(template, context)
        except BrokenProcessPool:
            pdf_workers.discard()
            future = pdf_workers.submit(template, context)
        # The slot is the worker's until the PDF is done, even if this request stops waiting.
        self._slot = None
        future.add_done_callback(lambda _: slot.release())
        try:
            return future.result(timeout=PDF_WAIT_SECONDS)
        except FutureTimeout as error:  # before OSError, of which it is a kind
            raise Busy(
                "The PDF took too long; retry later", headers={"Retry-After": RETRY_PDF_AFTER}
            ) from error
        except BrokenProcessPool as error:
            pdf_workers.discard()
            raise Busy(
                "A PDF worker stopped; retry in a moment",
                headers={"Retry-After": RETRY_PDF_AFTER},
            ) from error
        except (ImportError, OSError) as error:  # WeasyPrint or pango could not load
            raise _unavailable(type(error).__name__) from error


def _unavailable(reason: str) -> PdfUnavailable:
    return PdfUnavailable(
        "PDF rendering needs WeasyPrint and its system libraries (pango); "
        f"ask for the HTML (format=html) instead ({reason})"
    )


def position_report(
    session: Session,
    format_: DocumentFormat,
    position_id: int,
    year: int,
    quarter: int,
    *,
    verified_only: bool = False,
) -> Response:
    """A position's capaian report up to a quarter, as HTML or PDF (through the PDF workers:
    503 busy when none is free): what `GET /positions/{id}/report` answers, and the pages'
    Dasbor links to."""
    with Rendering(format_) as rendering:
        report = documents.achievement_report(
            session, position_id, year, quarter, verified_only=verified_only
        )
        release_connection(session)
        name = f"capaian-{position_id}-{year}-tw{quarter}"
        return rendering.document("report.html", name, report=report)
