"""Pages for people, server-rendered, outside /api/v1: the account (sign-in, sign-out, the
password, Beranda), Dasbor, Meja verifikasi, Isian realisasi and the indicator page. They call
the same services as the API, with the signed-in person's principal."""

from fastapi import APIRouter

from app.pages import account, dashboard, desk, entry, indicator


def pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (account, dashboard, desk, entry, indicator):
        router.include_router(module.router)
    return router
