"""A small shop that sends its e-mails and reports through Steady Queue, on SQLite."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The admin's CSS and JavaScript: runserver serves them under STATIC_URL while DEBUG is on.
    "django.contrib.staticfiles",
    "steady_queue",
    "shop",
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
ROOT_URLCONF = "demo_project.urls"
STATIC_URL = "static/"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # STEADY_QUEUE_DEMO_DATABASE lets the tests run the demo on a database file of their own.
        "NAME": os.environ.get("STEADY_QUEUE_DEMO_DATABASE", BASE_DIR / "demo.sqlite3"),
        # WAL and immediate transactions, as the SQLite page of the documentation recommends. Steady
        # Queue runs on Django's defaults too (its test suite does), only slower.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE"},
    }
}

TASKS = {
    "default": {
        "BACKEND": "steady_queue.backend.SteadyQueueBackend",
        "QUEUES": ["default", "email", "reports"],
    }
}

STEADY_QUEUE = {
    "workers": [{"queues": ["email", "*"], "threads": 3}],
    "dispatchers": [{"polling_interval": 0.2}],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "steady_queue": {"handlers": ["console"], "level": "INFO"},
        # Django logs every task start and finish at INFO; the demo prints its own progress.
        "django.tasks": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
