"""Sphinx configuration for the Steady Queue documentation."""

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
for package in ("steady-queue-core", "steady-queue-worker", "steady-queue-cron"):
    sys.path.insert(0, str(ROOT / "packages" / package / "src"))

# autodoc imports the modules, and they need a configured Django.
settings.configure(
    INSTALLED_APPS=["steady_queue"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TASKS={"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"}},
    USE_TZ=True,
)
django.setup()

project = "Steady Queue"
author = "The Steady Queue developers"
copyright = "2026, The Steady Queue developers"
release = version = __import__("steady_queue").__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
intersphinx_mapping = {}
exclude_patterns = ["_build", "example"]
html_theme = "alabaster"
html_static_path = []
nitpicky = False
