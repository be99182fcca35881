"""Settings for the benchmarks. BENCH_DB: sqlite (default) or postgres; BENCH_CONFIG: STEADY_QUEUE as JSON."""

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmarks"
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["steady_queue", "bench_project"]

if os.environ.get("BENCH_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", "postgres"),
            "NAME": os.environ.get("BENCH_PGDATABASE", "steady_queue_bench"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", str(BASE_DIR / "bench.sqlite3")),
        }
    }

TASKS = {"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": []}}
STEADY_QUEUE = json.loads(os.environ.get("BENCH_CONFIG", "{}"))
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"steady_queue": {"level": "WARNING"}}}
