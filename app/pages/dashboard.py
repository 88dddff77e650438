"""(being built)"""

from app.pages.web import page_router

router = page_router()
