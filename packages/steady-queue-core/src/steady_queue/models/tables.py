"""The per-database layer (steady_queue.sql) bound to the queue tables' names."""

from functools import cache

from django.apps import apps
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

from steady_queue.conf import get_config
from steady_queue.db import queue_database
from steady_queue.sql import Table, Tables, dialect_class

# Which model each of Tables' fields names. Looked up through the app registry, so that the
# model modules can use dialect() at module level without an import cycle.
MODELS = {
    "job": "Job",
    "ready": "ReadyExecution",
    "scheduled": "ScheduledExecution",
    "claimed": "ClaimedExecution",
    "blocked": "BlockedExecution",
    "semaphore": "Semaphore",
    "pause": "Pause",
    "unique_key": "UniqueKey",
}


def dialect(using=None):
    """The Dialect of the queue database (or of ``using``), with the tables' names quoted for it."""
    config = get_config()
    return _dialect(using or queue_database(), config.sql_fast_paths, config.prepared_statements)


@cache
def _dialect(alias, fast_paths, prepared_statements):
    connection = connections[alias]
    quote = connection.ops.quote_name
    tables = Tables(
        **{name: Table(apps.get_model("steady_queue", model)._meta, quote) for name, model in MODELS.items()}
    )
    return dialect_class(connection)(alias, tables, fast_paths, prepared_statements)


def table(model, using=None):
    """Any model's Table, quoted for the queue database (or ``using``)."""
    return Table(model._meta, connections[using or queue_database()].ops.quote_name)


@receiver(setting_changed)
def _forget_dialects(*, setting, **kwargs):
    if setting in ("DATABASES", "STEADY_QUEUE"):
        _dialect.cache_clear()
