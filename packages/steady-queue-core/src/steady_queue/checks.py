import re
from importlib import import_module, metadata

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import module_has_submodule

from steady_queue.conf import parse


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs=None, **kwargs):
    """Every problem in settings.STEADY_QUEUE, one error each; then the tasks and the recurring tasks."""
    config = parse(getattr(settings, "STEADY_QUEUE", None))
    errors = [checks.Error(message, id="steady_queue.E010") for message in config.errors]
    if config.database is not None:
        errors += check_queue_routing(config.database)
    errors += check_task_modules()
    if not errors:
        from steady_queue.recurring_task import RecurringTaskError, recurring_tasks

        try:
            recurring_tasks()
        except RecurringTaskError as error:
            errors.append(checks.Error(str(error), id="steady_queue.E020"))
    errors += check_conflicting_distribution()
    return errors


def check_queue_routing(alias):
    """The ORM must reach the database the queue's transactions and raw statements run on."""
    from django.db import router

    problems = []
    for model in apps.get_app_config("steady_queue").get_models():
        routed = {"reads": router.db_for_read(model), "writes": router.db_for_write(model)}
        problems += [f"{what} of {model.__name__} go to {db!r}" for what, db in routed.items() if db != alias]
        if not router.allow_migrate_model(alias, model):
            problems.append(f"migrations of {model.__name__} are not allowed there")
    if not problems:
        return []
    return [
        checks.Error(
            f"STEADY_QUEUE['database'] is {alias!r}, but the database routers disagree: {'; '.join(problems[:3])}"
            + (f" (and {len(problems) - 3} more)." if len(problems) > 3 else "."),
            hint="Add 'steady_queue.routers.QueueRouter' to DATABASE_ROUTERS, before any router that claims "
            "every model.",
            id="steady_queue.E040",
        )
    ]


def check_task_modules():
    """Import every app's ``tasks`` module, as the worker will, and report those that fail.

    Django validates a task when its module is imported (its queue against the backend's QUEUES,
    its priority, ...). Without this check a bad task surfaces only when the web process or the
    worker first imports it; with it, ``manage.py check`` and every command that runs the checks
    report it, together with the other problems.
    """
    errors = []
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, "tasks"):
            continue
        name = f"{app_config.name}.tasks"
        try:
            import_module(name)
        except Exception as error:  # any exception: the module cannot be used by a worker either
            errors.append(
                checks.Error(
                    f"{name} cannot be imported: {type(error).__name__}: {error}",
                    hint="Workers import every app's tasks module; fix the task it names.",
                    obj=name,
                    id="steady_queue.E030",
                )
            )
    return errors


def check_conflicting_distribution():
    """The unrelated 'steady-queue' distribution on the package index ships a module of the same name."""
    try:
        version = metadata.version("steady-queue")
    except metadata.PackageNotFoundError:
        return []
    return [
        checks.Warning(
            f"The distribution 'steady-queue' {version} is installed. It is a different project that also "
            "provides the 'steady_queue' module, and its files may shadow or overwrite this one's.",
            hint="Run 'pip uninstall steady-queue', then reinstall steady-queue-core (see the Installation page).",
            id="steady_queue.W001",
        )
    ]


POOLER_PORTS = {"6432"}  # PgBouncer's default port
POOLER_HOST_WORDS = ("pgbouncer", "pooler", "pgcat", "supavisor")


@checks.register(checks.Tags.compatibility)
def check_pooled_queue_database(app_configs=None, **kwargs):
    """Warn when the queue database looks like a transaction-pooling PgBouncer (by its port or host name).

    Only a guess from the settings: checks do not query the database. What a pooled queue database
    needs is in the PgBouncer page of the documentation.
    """
    config = parse(getattr(settings, "STEADY_QUEUE", None))
    if config.errors:
        return []
    return pooler_warnings(
        config.database, settings.DATABASES[config.database], config.listener_database, config.prepared_statements
    )


def pooler_warnings(alias, database, listener_database, prepared_statements=False):
    """The warnings for a queue database with these DATABASES settings (and STEADY_QUEUE's prepared_statements)."""
    host, port = str(database.get("HOST") or ""), str(database.get("PORT") or "")
    if "postgresql" not in database.get("ENGINE", "") or not (
        port in POOLER_PORTS or any(word in host.lower() for word in POOLER_HOST_WORDS)
    ):
        return []
    where = f"The queue database {alias!r} ({host or 'localhost'}:{port or '5432'}) looks like a connection pooler"
    warnings = []
    if listener_database is None:
        warnings.append(
            checks.Warning(
                f"{where}, and the workers would LISTEN through it: behind PgBouncer in transaction mode "
                "notifications never arrive and the workers only poll.",
                hint="Set STEADY_QUEUE['listener_database'] to a DATABASES alias that connects to PostgreSQL "
                "directly (workers probe it and warn when notifications do not arrive).",
                id="steady_queue.W002",
            )
        )
    # What turns server-side prepared statements on, and how to turn it off.
    preparing = []
    if prepared_statements:
        preparing.append(
            (
                "STEADY_QUEUE['prepared_statements'] prepares Steady Queue's statements on the server",
                "Set STEADY_QUEUE['prepared_statements'] = False",
            )
        )
    if database.get("OPTIONS", {}).get("prepare_threshold") is not None:
        preparing.append(
            (
                "OPTIONS['prepare_threshold'] turns on psycopg's server-side prepared statements",
                "Remove 'prepare_threshold' from OPTIONS (Django's default, None, prepares nothing)",
            )
        )
    for what, fix in preparing:
        warnings.append(
            checks.Warning(
                f"{where}, and {what}, which a transaction-pooling PgBouncer before 1.21 mixes up between clients "
                "('prepared statement \"_pg3_0\" already exists', '... does not exist').",
                hint=f"{fix}, or set max_prepared_statements in PgBouncer 1.21 or newer.",
                id="steady_queue.W003",
            )
        )
    return warnings


# PRAGMA journal_mode=WAL, or journal_mode(WAL), optionally on the main schema, in any case.
WAL_PRAGMA = re.compile(r"pragma\s+(main\.)?journal_mode\s*(=|\()\s*['\"]?wal['\"]?\s*\)?", re.IGNORECASE)


@checks.register(checks.Tags.compatibility)
def check_sqlite_queue_database(app_configs=None, **kwargs):
    """Suggest WAL and IMMEDIATE transactions when the queue database is SQLite.

    Reads the settings only. The journal mode also lives in the database file, so a file switched to
    WAL once stays so; but asking would connect on every check, before migrate too, and a new file
    (a fresh deployment, a restored copy, the test database) starts with a rollback journal again:
    only init_command makes WAL hold for every file the settings name.
    """
    from django.db import connections

    config = parse(getattr(settings, "STEADY_QUEUE", None))
    if config.errors:
        return []
    alias = config.database
    return sqlite_infos(alias, connections[alias].vendor, settings.DATABASES[alias].get("OPTIONS") or {})


def sqlite_infos(alias, vendor, options):
    """The suggestion for a queue database of this vendor with these OPTIONS (none if it needs nothing)."""
    if vendor != "sqlite":
        return []
    init_command = options.get("init_command") or ""
    wal = any(WAL_PRAGMA.fullmatch(command.strip()) for command in init_command.split(";"))
    # In WAL mode EXCLUSIVE takes the same lock as IMMEDIATE: both begin by taking the write lock.
    immediate = str(options.get("transaction_mode") or "").upper() in ("IMMEDIATE", "EXCLUSIVE")
    if wal and immediate:
        return []
    missing = [name for name, present in (("WAL", wal), ("transaction_mode IMMEDIATE", immediate)) if not present]
    suggested = dict(options)
    if not wal:
        suggested["init_command"] = "; ".join(filter(None, [init_command.strip(" ;"), "PRAGMA journal_mode=WAL"]))
    if not immediate:
        suggested["transaction_mode"] = "IMMEDIATE"
    return [
        checks.Info(
            f"The queue database {alias!r} is SQLite without {' and '.join(missing)}. In WAL mode readers do "
            "not wait for the writer and a commit is one append to the log: enqueueing one task at a time ran "
            "about 4 times as fast in Steady Queue's benchmark. With IMMEDIATE transactions, a transaction of "
            "your own that reads and then writes waits for the write lock instead of failing at once with "
            "'database is locked'.",
            hint=f"Set DATABASES[{alias!r}]['OPTIONS'] = {suggested!r} (see the SQLite page of the "
            "documentation), or add 'steady_queue.I001' to SILENCED_SYSTEM_CHECKS.",
            id="steady_queue.I001",
        )
    ]
