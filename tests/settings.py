"""Settings for the test suite. STEADY_QUEUE_TEST_DB picks the database: sqlite (default), postgres,
mariadb (alias mysql; MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD) or pgbouncer.

STEADY_QUEUE_TEST_DB=pgbouncer is PostgreSQL through PgBouncer in transaction pooling mode (python
tests/pgbouncer.py start).

The runtime tests start real ``manage.py steady_queue`` processes with these settings and
STEADY_QUEUE_TEST_SUBPROCESS=1, which points them at the test database, and with
STEADY_QUEUE_TEST_CONFIG, a JSON object used as settings.STEADY_QUEUE.
"""

import hashlib
import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DB_DIR = Path(os.environ.get("STEADY_QUEUE_TEST_DB_DIR", BASE_DIR.parent / ".test-dbs"))
DB_DIR.mkdir(exist_ok=True)
ENGINE = os.environ.get("STEADY_QUEUE_TEST_DB", "sqlite")

SECRET_KEY = "steady-queue-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.sessions",
    "steady_queue",
    "tests.testapp",
]
if os.environ.get("STEADY_QUEUE_TEST_RECURRING_APP"):
    # Its tasks module declares @recurring tasks that fire every second.
    INSTALLED_APPS.append("tests.recurringapp")
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.urls"

if ENGINE == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", "postgres"),
            "NAME": os.environ.get("PGDATABASE", "steady_queue"),
            # One test database per checkout: clones on one machine must not drop each other's.
            "TEST": {
                "NAME": os.environ.get(
                    "STEADY_QUEUE_TEST_DB_NAME",
                    "test_steady_queue_" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8],
                )
            },
        }
    }
elif ENGINE in ("mariadb", "mysql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("MYSQL_PORT", "3306"),
            "USER": os.environ.get("MYSQL_USER", "steady_queue"),
            "PASSWORD": os.environ.get("MYSQL_PASSWORD", "steady_queue"),
            "NAME": os.environ.get("MYSQL_DATABASE", "steady_queue"),
            # Django's MySQL default, said out loud: claims rely on each statement seeing the latest
            # committed rows, and REPEATABLE READ's gap locks would make workers wait for each other.
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
            "TEST": {
                "NAME": os.environ.get(
                    "STEADY_QUEUE_TEST_DB_NAME",
                    "test_steady_queue_" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8],
                ),
                "CHARSET": "utf8mb4",
            },
        }
    }
elif ENGINE == "pgbouncer":
    # The queue database goes through PgBouncer in transaction pooling mode (python tests/pgbouncer.py
    # start), as in production behind a pooler; "direct" reaches PostgreSQL itself, for the listener's
    # LISTEN, which needs a session of its own. The test database is created and dropped through
    # PgBouncer by the default alias, like every other statement of the suite; "direct" is its test
    # mirror (Django then only points its NAME at the test database), so nothing is created twice.
    _server = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", "postgres"),
        "NAME": os.environ.get("PGDATABASE", "steady_queue"),
    }
    _test_name = os.environ.get(
        "STEADY_QUEUE_TEST_DB_NAME", "test_steady_queue_pgb_" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]
    )
    DATABASES = {
        "default": {
            **_server,
            "PORT": os.environ.get("STEADY_QUEUE_PGBOUNCER_PORT", "6432"),
            "TEST": {"NAME": _test_name},
        },
        "direct": {
            **_server,
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": _test_name, "MIRROR": "default"},
        },
    }
elif ENGINE == "sqlite":
    # A file, not memory: the worker tests run real processes against the same database.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DB_DIR / "steady_queue.sqlite3",
            "TEST": {"NAME": str(DB_DIR / os.environ.get("STEADY_QUEUE_TEST_DB_NAME", "test_steady_queue.sqlite3"))},
        }
    }
    # Django's default SQLite settings on purpose (rollback journal, deferred transactions): what a
    # first deployment has. The demo runs in WAL mode with immediate transactions, as recommended.
    SILENCED_SYSTEM_CHECKS = ["steady_queue.I001"]
else:
    raise RuntimeError(
        f"STEADY_QUEUE_TEST_DB must be 'sqlite', 'postgres', 'pgbouncer' or 'mariadb', not {ENGINE!r}"
    )

# STEADY_QUEUE_TEST_TOPOLOGY=two-databases puts the queue's tables in a database of their own ("queue",
# beside the application's "default"), routed by steady_queue.routers.QueueRouter.
TOPOLOGY = os.environ.get("STEADY_QUEUE_TEST_TOPOLOGY", "one-database")
if TOPOLOGY == "two-databases":

    def _queue_name(name):
        name = str(name)
        return name.removesuffix(".sqlite3") + "_queue" + (".sqlite3" if name.endswith(".sqlite3") else "")

    _default = DATABASES["default"]
    DATABASES["queue"] = {
        **_default,
        "NAME": _queue_name(_default["NAME"]),
        "TEST": {**_default["TEST"], "NAME": _queue_name(_default["TEST"]["NAME"])},
    }
    DATABASE_ROUTERS = ["steady_queue.routers.QueueRouter"]
elif TOPOLOGY != "one-database":
    raise RuntimeError(f"STEADY_QUEUE_TEST_TOPOLOGY must be 'one-database' or 'two-databases', not {TOPOLOGY!r}")

if os.environ.get("STEADY_QUEUE_TEST_SUBPROCESS"):
    for database in DATABASES.values():
        database["NAME"] = database["TEST"]["NAME"]

STEADY_QUEUE = json.loads(os.environ.get("STEADY_QUEUE_TEST_CONFIG", "{}"))
if TOPOLOGY == "two-databases":
    STEADY_QUEUE.setdefault("database", "queue")
if os.environ.get("STEADY_QUEUE_TEST_SQL_FAST_PATHS") == "0":
    # The ORM versions of the hot paths on this database: what a database without a module of its
    # own in steady_queue.sql runs.
    STEADY_QUEUE.setdefault("sql_fast_paths", False)
if ENGINE == "pgbouncer":
    # Wake-ups as a deployment behind PgBouncer should have them; the tests of the listener without its
    # direct connection set {"listener_database": None}.
    STEADY_QUEUE.setdefault("listener_database", "direct")
    # PgBouncer 1.18 in transaction mode: no prepared statements (see docs/pgbouncer.rst).
    STEADY_QUEUE.setdefault("prepared_statements", False)

TASKS = {
    "default": {
        "BACKEND": "steady_queue.backend.SteadyQueueBackend",
        "QUEUES": ["default", "email", "reports", "low"],
    },
    "open": {
        # No QUEUES restriction: any queue name is allowed.
        "BACKEND": "steady_queue.backend.SteadyQueueBackend",
        "QUEUES": [],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # The runtime tests read the processes' log lines.
        "steady_queue": {
            "handlers": ["console"],
            "level": "INFO" if os.environ.get("STEADY_QUEUE_TEST_SUBPROCESS") else "WARNING",
        }
    },
}
