"""The hot paths in each database's own SQL: enqueue, claim and finish in as few statements as possible.

``for_connection()`` returns the module for the database at hand. Each offers the same functions;
databases without a module of their own (MySQL, others) use the portable ORM versions in
``steady_queue.models``, which are correct everywhere, only slower.
"""

from django.db import connections

from . import postgresql, sqlite

_BY_VENDOR = {"postgresql": postgresql, "sqlite": sqlite}


def for_connection(using):
    return _BY_VENDOR.get(connections[using].vendor)

