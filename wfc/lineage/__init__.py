"""The lineage database: schema, migrations, and the :class:`~wfc.lineage.records.Lineage` protocol.

Two implementations of one protocol share one schema: ``SqlAlchemyLineage`` works with any URL
and owns migrations; ``SqliteLineage`` speaks to the default local SQLite file through the standard
library, so that a short-lived ``run-step`` process does not pay SQLAlchemy's import (ADR 0004).
A contract test runs both and compares the rows they write.

Commands that only read open it read-only: ``open_lineage(url, read_only=True)`` for the
protocol, ``wfc.lineage.db.database(url, read_only=True)`` for the query functions of
``wfc.lineage.query``.
"""

from __future__ import annotations

from wfc.lineage.records import Lineage

SQLITE_PREFIX = "sqlite:///"


def open_lineage(url: str, *, read_only: bool = False) -> Lineage:
    """Open the lineage database at ``url``: migrating it when it is behind, or, ``read_only``,
    changing nothing (see :mod:`wfc.lineage.db`: an absent database reads as empty, one that is
    behind is an error, every write raises).

    Raises:
        UsageError: A malformed URL, a schema newer than this wfc, or (read-only) an older one.
        InfraError: The database is unreachable.
    """
    if url.startswith(SQLITE_PREFIX):
        from wfc.lineage.sqlite import SqliteLineage

        fast = SqliteLineage.open_current(url.removeprefix(SQLITE_PREFIX), read_only=read_only)
        if fast is not None:
            return fast
    from wfc.lineage.db import open_database
    from wfc.lineage.sqla import SqlAlchemyLineage

    return SqlAlchemyLineage(open_database(url, read_only=read_only))
