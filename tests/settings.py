"""Settings for the test suite. STEADY_QUEUE_TEST_DB picks the database: sqlite (default) or postgres."""

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
            "TEST": {"NAME": os.environ.get("STEADY_QUEUE_TEST_DB_NAME", "test_steady_queue")},
        }
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
else:
    raise RuntimeError(f"STEADY_QUEUE_TEST_DB must be 'sqlite' or 'postgres', not {ENGINE!r}")

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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"steady_queue": {"handlers": ["console"], "level": "WARNING"}},
}
