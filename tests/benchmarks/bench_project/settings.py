"""One Django project for every library under test; BENCH_LIBRARY picks which one is installed.

BENCH_DB: sqlite or postgres. BENCH_SQLITE: the SQLite file. BENCH_PG: host:port:dbname.
BENCH_DB sqlite-wal, sqlite-wal-immediate, sqlite-wal-immediate-normal: SQLite in those modes (SQLITE_MODES).
BENCH_DB pgbouncer: the same PostgreSQL database through PgBouncer (BENCH_PGBOUNCER: host:port), with
a direct alias for the listener; pgbouncer-polling: through PgBouncer, no direct listener.
BENCH_DB mariadb: BENCH_MYSQL host:port:dbname, user and password from MYSQL_USER and MYSQL_PASSWORD.
BENCH_CONFIG: Steady Queue's STEADY_QUEUE as JSON (workers, threads...).
BENCH_CONN_MAX_AGE: CONN_MAX_AGE in seconds, or "none" for persistent connections.
"""

import json
import os

LIBRARY = os.environ.get("BENCH_LIBRARY", "steady-queue")
SECRET_KEY = "benchmarks"
USE_TZ = True
TIME_ZONE = "UTC"
DEBUG = False

# The OPTIONS of each SQLite BENCH_DB. "sqlite" is Django's default (rollback journal, deferred
# transactions); "sqlite-wal-immediate" is what docs/sqlite.rst recommends; "sqlite-wal-immediate-normal"
# adds synchronous=NORMAL, which may lose the last commits on power loss (never the file's integrity).
SQLITE_MODES = {
    "sqlite": {},
    "sqlite-wal": {"init_command": "PRAGMA journal_mode=WAL"},
    "sqlite-wal-immediate": {"init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE"},
    "sqlite-wal-immediate-normal": {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
    },
}

if os.environ.get("BENCH_DB", "sqlite") in ("postgres", "pgbouncer", "pgbouncer-polling"):
    host, port, name = os.environ.get("BENCH_PG", "127.0.0.1:5432:steady_queue_bench").split(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": host,
            "PORT": port,
            "NAME": name,
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", "postgres"),
        }
    }
elif os.environ.get("BENCH_DB") == "mariadb":
    host, port, name = os.environ.get("BENCH_MYSQL", "127.0.0.1:3306:steady_queue_bench").split(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": host,
            "PORT": port,
            "NAME": name,
            "USER": os.environ.get("MYSQL_USER", "steady_queue"),
            "PASSWORD": os.environ.get("MYSQL_PASSWORD", "steady_queue"),
            # Django's default isolation level on MySQL (READ COMMITTED), the same for every library.
            "OPTIONS": {"charset": "utf8mb4"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", "/tmp/bench.sqlite3"),
            "OPTIONS": SQLITE_MODES[os.environ.get("BENCH_DB", "sqlite")],
        }
    }

if LIBRARY == "django-tasks-db":
    INSTALLED_APPS = ["django_tasks_db", "bench_project"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
elif LIBRARY == "steady-queue-0.3.0":
    INSTALLED_APPS = ["steady_queue", "bench_project"]
    TASKS = {"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": []}}
    from datetime import timedelta

    from steady_queue.configuration import Configuration

    _config = json.loads(os.environ.get("BENCH_CONFIG", "{}"))
    _worker = (_config.get("workers") or [{}])[0]
    STEADY_QUEUE = Configuration.Options(
        workers=[
            Configuration.Worker(
                threads=_worker.get("threads", 3),
                processes=_worker.get("processes", 1),
                polling_interval=timedelta(seconds=_worker.get("polling_interval", 0.1)),
            )
        ],
        dispatchers=[Configuration.Dispatcher()],
        recurring_tasks=[],
    )
else:
    INSTALLED_APPS = ["steady_queue", "bench_project"]
    TASKS = {"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": []}}
    STEADY_QUEUE = json.loads(os.environ.get("BENCH_CONFIG", "{}"))

# BENCH_CONN_MAX_AGE: Django's CONN_MAX_AGE for every alias, in seconds or "none" (persistent);
# unset: Django's default, 0 (a connection closed at the end of each request or task).
if "BENCH_CONN_MAX_AGE" in os.environ:
    _age = os.environ["BENCH_CONN_MAX_AGE"]
    DATABASES["default"]["CONN_MAX_AGE"] = None if _age.lower() == "none" else int(_age)

if os.environ.get("BENCH_DB", "").startswith("pgbouncer"):
    DATABASES["direct"] = dict(DATABASES["default"])
    bouncer_host, bouncer_port = os.environ["BENCH_PGBOUNCER"].split(":")
    DATABASES["default"].update(HOST=bouncer_host, PORT=bouncer_port)
    if os.environ["BENCH_DB"] == "pgbouncer":
        STEADY_QUEUE["listener_database"] = "direct"
    if LIBRARY == "steady-queue":
        # PgBouncer 1.18 in transaction mode (docs/pgbouncer.rst).
        STEADY_QUEUE["prepared_statements"] = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {
        "steady_queue": {"handlers": ["null"], "level": "WARNING", "propagate": False},
        "django_tasks": {"handlers": ["null"], "level": "WARNING", "propagate": False},
        "django_tasks_db": {"handlers": ["null"], "level": "WARNING", "propagate": False},
        "django.tasks": {"handlers": ["null"], "level": "WARNING", "propagate": False},
    },
}
