"""Use cases, one module per entity. Importing the package installs the audit trail."""

from app.services import audit  # noqa: F401  (records every flushed change)
