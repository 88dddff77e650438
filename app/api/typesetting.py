"""The documents' templates rendered to HTML, and HTML typeset as PDF: what the PDF worker
processes run (app/api/documents.py). It imports Jinja2 alone, so that a worker starts
quickly; WeasyPrint is loaded by the worker itself, at its lower priority."""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.core.text import printed

_templates = Environment(
    loader=PackageLoader("app", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=printed,  # long words get break opportunities: layout linear in the text
)


def render_html(template: str, **context: Any) -> str:
    """A template rendered with `context` (every value escaped unless marked safe)."""
    return _templates.get_template(template).render(**context)


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # The documents carry everything they need: a link in the data is never fetched.
    raise ValueError(f"not fetched: {url[:100]}")


def typeset(template: str, context: dict[str, Any]) -> bytes:
    """In a worker process: the template rendered with `context`, typeset as a PDF; an
    ImportError or OSError when WeasyPrint or its system libraries (pango) cannot load."""
    from weasyprint import HTML as WeasyHTML

    html = render_html(template, **context)
    pdf = WeasyHTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def start_worker(server: int) -> None:
    """A PDF worker yields the CPU to the server's requests, loads WeasyPrint once, and ends
    when the server process `server` is gone, however it ended."""
    if hasattr(os, "nice"):  # POSIX
        os.nice(10)
    threading.Thread(target=_end_with, args=(server,), daemon=True).start()
    with suppress(ImportError, OSError):  # each PDF then says why it cannot be made
        import weasyprint  # noqa: F401


SERVER_CHECK_SECONDS = 2.0


def _end_with(server: int) -> None:
    # A worker waiting for work would otherwise outlive a server killed without its shutdown.
    while True:
        time.sleep(SERVER_CHECK_SECONDS)
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the server's id now names another user's process
            os._exit(0)
