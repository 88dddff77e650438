"""The ASGI application: `app.main:app`."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import anyio
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.api.documents import pdf_workers
from app.api.limits import HeadAsGet, RequestGuard
from app.api.main import api_router
from app.api.routes import health
from app.api.routes.webhooks import document_events
from app.core.errors import PROBLEM_JSON, install_error_handlers, openapi_problem
from app.core.logging import is_sane_request_id
from app.pages import pages_router
from app.pages.web import refusal_page

DESCRIPTION = """
The **IKI service** holds the *Indikator Kinerja Individu* (IKI) that each agency fixes
every year by decree (SK): for each position its performance objectives (*sasaran kinerja*),
the indicators that measure them, each indicator's formula over reported quantities
(*variabel*, the SK's *komponen data*) and where the data comes from (*sumber data*).

Bidang staff report *realisasi* per quarter; the service computes *capaian* with the right
aggregation over quarters and polarity, and serves it to e-SAKIP.

**Authentication.** Every route under `/api/v1` needs an API key sent as
`Authorization: Bearer <key>` (use the *Authorize* button). Roles, each allowed what the ones
before it are: `reader` < `operator` (scoped to units) < `verifier` < `admin`.

**Lists** answer `{"items": [...], "total": N, "limit": L, "offset": O}`; a filter only
narrows a list (one naming nothing gives an empty list).

**Years and units.** A year that a route is of (in its path, or the `year` of a pull, a
document, a workbook) must be one a decree (SK) defines: another answers 404
`year_not_in_decree`. A unit named in a path that the agency does not have answers 404
`not_found`. In a body, either is invalid input (422).

**Errors** are RFC 9457 `application/problem+json` objects with a stable `code`.
"""

# In the order a reader of /docs needs them: what e-SAKIP pulls and bidang staff post first.
TAGS = [
    {
        "name": "achievements",
        "description": "Capaian per indicator and period, as e-SAKIP pulls them (JSON or CSV).",
    },
    {
        "name": "realizations",
        "description": "Realisasi of one indicator per quarter, answered with its capaian.",
    },
    {
        "name": "data values",
        "description": "Reported values of variables: write, list, bulk import (JSON or CSV).",
    },
    {
        "name": "workflow",
        "description": "Submit, verify, return and reopen a unit's quarter; verified data is "
        "locked and official. A quarter's data-quality checks, which a submit and a verify run.",
    },
    {
        "name": "quality rules",
        "description": "Data-quality rules written by people (`left operator right`), checked "
        "with the built-in ones before a quarter becomes official.",
    },
    {"name": "targets", "description": "Perjanjian Kinerja targets: annual and per quarter."},
    {"name": "indicators", "description": "Indikator Kinerja Individu with their formulas."},
    {"name": "positions", "description": "Jabatan with IKI, and each position's IKI document."},
    {"name": "variables", "description": "Reported quantities (komponen data) of an agency."},
    {"name": "decrees", "description": "The SKs that fix a year's IKI of an agency."},
    {"name": "objectives", "description": "Sasaran Kinerja of a position in a decree."},
    {"name": "agencies", "description": "Perangkat Daerah (OPD) of the city."},
    {"name": "units", "description": "Bidang, Sekretariat and UPTD: the owners of reported data."},
    {
        "name": "formulas",
        "description": "Check a formula against an agency's variables and try it with values.",
    },
    {
        "name": "rating scales",
        "description": "Bands that turn capaian into a rating; default Permendagri 86/2017.",
    },
    {
        "name": "reports",
        "description": "Spreadsheets for people: achievements as an Excel workbook, and each "
        "unit's realization template to fill in and import back.",
    },
    {
        "name": "webhooks",
        "description": "Subscriptions to events (admin): a verified quarter's capaian and "
        "each workflow step, posted signed (Standard Webhooks) from an outbox written with "
        "the step. The events themselves are the document's `webhooks`.",
    },
    {"name": "audit", "description": "Every change: who, when, before and after, request id."},
    {"name": "health", "description": "Liveness and readiness probes; no key needed."},
]


def _problems_as_problem_json(app: FastAPI) -> None:
    """Document error answers as what they are: FastAPI puts a `responses` model under
    application/json; a problem's schema belongs under application/problem+json alone."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in generate()["paths"].values():
                for operation in operations.values():
                    answers = operation.setdefault("responses", {})
                    # Any operation may find the database busy; any body may stall.
                    answers.setdefault("503", openapi_problem(503))
                    if "requestBody" in operation:
                        answers.setdefault("408", openapi_problem(408))
                    for answer in answers.values():
                        content = answer.get("content", {})
                        if PROBLEM_JSON in content and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """The PDF workers, started with the first PDF, stop with the server."""
    yield
    await anyio.to_thread.run_sync(pdf_workers.shutdown)


def create_app() -> FastAPI:
    """Build the application: routers, error handlers, OpenAPI metadata."""
    # Swagger UI and ReDoc assets are served by the app itself, not from a CDN, so /docs works
    # on a city network without internet access.
    app = FastAPIOffline(
        title="IKI service",
        version=version("iki-service"),  # pyproject.toml's
        summary="Indikator Kinerja Individu: definitions, realisasi and capaian.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        # Operation ids are the route functions' names (`list_achievements`, not
        # `list_achievements_api_v1_achievements_get`): what generated clients call.
        generate_unique_id_function=lambda route: route.name,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    _problems_as_problem_json(app)
    # The key, its capability and the body's size are checked before the body is read; the
    # body is read, bounded in size and time, before the route runs (app/api/limits.py).
    app.add_middleware(RequestGuard, page_refusal=refusal_page)
    # HEAD wherever GET: outside the guard, which then sees the GET it will be served as.
    app.add_middleware(HeadAsGet)
    # Every answer carries an X-Request-ID: the client's when it is sane, else a new one; the
    # audit trail and every log line of the request carry it too.
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-ID",
        generator=lambda: uuid.uuid4().hex,
        validator=is_sane_request_id,
    )
    app.include_router(health.router)
    app.include_router(api_router)
    document_events(app.webhooks)  # OpenAPI 3.1 `webhooks`: what subscribers are posted
    # The pages for people: outside /api/v1, signed in by a session cookie, never by a key.
    app.include_router(pages_router())
    return app


app = create_app()
