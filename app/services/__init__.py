"""Use cases, one module per entity. Importing the package installs the audit trail.

Every rule of a write is checked before anything is written, so a refused request leaves the
session as it found it. Services flush, never commit: the request's unit of work commits.
"""

from app.services import (
    audit,  # noqa: F401  (records every flushed change)
    revisions,  # noqa: F401  (revises the agencies of every flushed change)
)
