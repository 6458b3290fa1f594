"""Every table of the catalog, in one place: importing this module registers them all on
:class:`~acquisition.catalog.base.Base`, and :data:`metadata` is the whole schema.

The catalog (:class:`~acquisition.catalog.db.Catalog`) and the Alembic environment
(``migrations/env.py``) both import this module, so no table can be missing from either; the schema
test compares :data:`metadata` with what the migrations build. A new table is declared in a module
of this package (on ``Base``), imported here, and created by a new migration.

Why the annotation, self-report and recognition-model tables are here, in the acquisition library:
the catalog is one database with one migration history, and it is the lowest layer that both the
recorder and the analysis reach (analysis may import acquisition, never the reverse). The tables are
plain declarations; what is done with them lives with its user (:mod:`analysis.annotation.store`
codes events through :meth:`Catalog.transaction`; the ``responses`` rows are copies of a session's
``responses.csv`` made when the session is registered, an acquisition act).
"""

from __future__ import annotations

from acquisition.catalog import (
    annotation_models,
    models,
    recognition_table,
    response_models,
)
from acquisition.catalog.base import Base

#: the modules that declare the tables, in the order of the migrations that created them
TABLE_MODULES = (models, annotation_models, response_models, recognition_table)

#: the whole schema of the catalog
metadata = Base.metadata

#: the names of every table
TABLE_NAMES = tuple(sorted(metadata.tables))
