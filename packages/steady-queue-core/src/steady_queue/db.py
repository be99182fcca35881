"""Transactions and row locks for the runtime's state changes, whatever the database.

PostgreSQL (and MySQL 8) lock rows: claims use ``FOR UPDATE SKIP LOCKED`` so that workers never wait
for each other. SQLite locks the whole database instead; there, the runtime's write transactions
start with ``BEGIN IMMEDIATE`` so that they queue for the write lock up front (and wait through the
busy timeout) rather than failing with "database is locked" when a read-then-write transaction
tries to upgrade its lock. A lock error that still gets through is retried, never shown to the user.
"""

from contextlib import nullcontext
from functools import wraps

from django.db import connections, transaction

from steady_queue.retrying import LOCK_CONTENTION
from steady_queue.sql import dialect_class


def queue_database():
    """The database alias holding Steady Queue's tables: STEADY_QUEUE["database"].

    Every transaction and raw statement of the queue names it; the ORM reaches it through
    steady_queue.routers.QueueRouter, and a system check fails when the routers disagree.
    """
    from steady_queue.conf import get_config

    return get_config().database


def write_transaction(using=None):
    """A transaction for the runtime's state changes (on SQLite, one that takes the write lock first)."""
    connection = connections[using or queue_database()]
    if connection.in_atomic_block:
        return transaction.atomic(using=connection.alias)
    return dialect_class(connection).write_transaction(connection)


def queued_write(using=None):
    """Around a write in autocommit: on SQLite its turn in the write queue (see sql.write_queue), elsewhere nothing."""
    connection = connections[using or queue_database()]
    if connection.in_atomic_block:
        return nullcontext()
    return dialect_class(connection).write_turn(connection)


def skip_locked(queryset):
    """Lock the selected rows, skipping rows other transactions hold, where the database can."""
    features = connections[queryset.db].features
    if features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def retry_on_lock(function):
    """Run a runtime write again when SQLite's lock (or a PostgreSQL deadlock) got in its way."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        if connections[queue_database()].in_atomic_block:
            # Inside a transaction a failed statement dooms the whole transaction: the outermost
            # retrying call starts it again.
            return function(*args, **kwargs)
        return LOCK_CONTENTION.run(lambda: function(*args, **kwargs), function.__qualname__)

    return wrapper


def lock(queryset):
    """Lock the selected rows of the queryset's own table until the transaction ends.

    Rows another transaction deletes meanwhile are not returned once their lock is released, which
    is what keeps two processes from recording two outcomes for one claim.
    """
    features = connections[queryset.db].features
    if not features.has_select_for_update:
        return queryset
    if features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()
