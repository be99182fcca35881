"""The database router for a separate queue database (``STEADY_QUEUE["database"]``).

Add ``"steady_queue.routers.QueueRouter"`` to ``DATABASE_ROUTERS`` when the queue's tables live in
a database other than ``default``. Django asks the routers in order and takes the first answer that
is not None: a router listed before this one can still claim other apps for the queue database.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

from steady_queue.db import queue_database

APP_LABEL = "steady_queue"


def _queue_alias():
    """STEADY_QUEUE["database"], or None while STEADY_QUEUE is invalid.

    Django's own checks consult the routers: raising here would hide the list of problems that
    ``manage.py check`` reports (and the runtime refuses to start on anyway).
    """
    try:
        return queue_database()
    except ImproperlyConfigured:
        return None


class QueueRouter:
    """The queue's reads, writes and migrations go to STEADY_QUEUE["database"]; a dedicated one holds nothing else."""

    def db_for_read(self, model, **hints):
        return _queue_alias() if model._meta.app_label == APP_LABEL else None

    def db_for_write(self, model, **hints):
        return _queue_alias() if model._meta.app_label == APP_LABEL else None

    def allow_relation(self, obj1, obj2, **hints):
        # The queue's models refer only to each other, always in one database.
        if obj1._meta.app_label == APP_LABEL and obj2._meta.app_label == APP_LABEL:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        queue = _queue_alias()
        if queue is None:
            return None
        if app_label == APP_LABEL:
            return db == queue
        if db == queue and queue != DEFAULT_DB_ALIAS:
            # A dedicated queue database holds the queue's tables only: `migrate --database queue`
            # must not copy the application's tables there. The default database is never closed
            # to other apps, whatever STEADY_QUEUE["database"] says.
            return False
        return None
