"""The session catalog: one database of every recording (SQLite by default, PostgreSQL by URL)."""

from acquisition.catalog import response_models  # noqa: F401  (its table joins Base.metadata)
from acquisition.catalog import recognition_models  # noqa: F401  (the models table, issue 12)
from acquisition.catalog.db import Catalog, mask_url, resolve_url

__all__ = ["Catalog", "mask_url", "resolve_url"]
