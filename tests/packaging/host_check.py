"""Run by the packaging tests in a fresh interpreter: a web host with steady-queue-core alone.

Usage: python core_only.py <sqlite file> [--block-runtime]
With --block-runtime, importing steady_queue.worker or steady_queue.cron fails, as it would on a
host where those distributions are not installed.
"""

import json
import sys

BLOCKED = ("steady_queue.worker", "steady_queue.cron")


class BlockRuntime:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if "--block-runtime" in sys.argv:
    sys.meta_path.insert(0, BlockRuntime())

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    INSTALLED_APPS=["steady_queue"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    TASKS={"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"}},
    USE_TZ=True,
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.tasks import task  # noqa: E402


@task()
def greet(name, when):
    return f"hello {name}"


call_command("migrate", verbosity=0)
call_command("check")
from datetime import UTC, datetime  # noqa: E402

result = greet.enqueue("web", datetime(2026, 1, 1, tzinfo=UTC))
fetched = greet.get_result(result.id)
try:
    call_command("steady_queue")
    command_error = None
except CommandError as error:
    command_error = str(error)

print(
    json.dumps(
        {
            "status": fetched.status,
            "args": fetched.args,
            "command_error": command_error,
            "runtime_imported": sorted(m for m in sys.modules if m.startswith(BLOCKED)),
        }
    )
)
