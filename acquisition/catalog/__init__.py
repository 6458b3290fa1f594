"""The session catalog: one database of every recording (SQLite by default, PostgreSQL by URL).

:class:`Catalog` (:mod:`.db`) is the way in; its tables are registered in :mod:`.tables`.
"""

from acquisition.catalog.connection import mask_url, resolve_url
from acquisition.catalog.db import Catalog

__all__ = ["Catalog", "mask_url", "resolve_url"]
