"""The per-database layer: every statement Steady Queue writes by hand, one module per database.

Each module holds a ``Dialect`` subclass (see ``base``): flags saying how the database behaves and
which hot paths it runs in its own SQL, and those hot paths. A database without a module gets the
base ``Dialect``: the ORM versions of everything, polling for work. Adding a database is a module
here and a line in ``DIALECTS``.

This package imports no model: ``steady_queue.models.tables.dialect()`` binds a dialect to the
queue tables' quoted names.
"""

from .base import FAST_PATHS, Dialect
from .mysql import MySQL
from .postgresql import PostgreSQL
from .sqlite import SQLite
from .tables import Table, Tables

DIALECTS = {"postgresql": PostgreSQL, "sqlite": SQLite, "mysql": MySQL}

__all__ = ["DIALECTS", "FAST_PATHS", "Dialect", "Table", "Tables", "dialect_class", "is_lock_error"]


def dialect_class(connection):
    """The Dialect subclass for a connection's database (the portable base for one without a module)."""
    return DIALECTS.get(connection.vendor, Dialect)


def is_lock_error(error):
    """Whether a database error means a lock got in the way (running the transaction again helps)."""
    return any(dialect.is_lock_error(error) for dialect in DIALECTS.values())
