"""Run by the packaging checks in a fresh interpreter: what a host with these distributions can do.

Usage: python host_check.py <sqlite file> [--block-runtime]
With --block-runtime, importing steady_queue.worker or steady_queue.cron fails, as it would on a
host where those distributions are not installed.

Migrates a new SQLite database, enqueues a task, loads ``manage.py steady_queue`` (and runs it only
where it is core's stand-in, which stops at once with its hint) and prints one line of JSON: which
distributions are installed, where ``steady_queue`` was imported from, and what worked.
"""

import json
import sys

BLOCKED = ("steady_queue.worker", "steady_queue.cron")
DISTRIBUTIONS = ("steady-queue-core", "steady-queue-worker", "steady-queue-cron", "steady-queue")
STAND_IN = "steady_queue.management.commands.steady_queue"


class BlockRuntime:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if "--block-runtime" in sys.argv:
    sys.meta_path.insert(0, BlockRuntime())

import importlib  # noqa: E402
from importlib import metadata  # noqa: E402

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    INSTALLED_APPS=["steady_queue"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    TASKS={"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"}},
    USE_TZ=True,
)
django.setup()

from django.core.management import call_command, get_commands, load_command_class  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.tasks import task  # noqa: E402

import steady_queue  # noqa: E402


@task()
def greet(name, when):
    return f"hello {name}"


def installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def importable(module):
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    return True


call_command("migrate", verbosity=0)
call_command("check")
from datetime import UTC, datetime  # noqa: E402

result = greet.enqueue("web", datetime(2026, 1, 1, tzinfo=UTC))
fetched = greet.get_result(result.id)

# The command Django finds for "manage.py steady_queue", and its --help text.
command = load_command_class(get_commands()["steady_queue"], "steady_queue")
command_help = command.create_parser("manage.py", "steady_queue").format_help()
command_error = None
if type(command).__module__ == STAND_IN:
    try:
        call_command("steady_queue")
    except CommandError as error:
        command_error = str(error)

runtime_imported = sorted(m for m in sys.modules if m.startswith(BLOCKED))
processes = {}
if "--block-runtime" not in sys.argv:
    for entry_point in metadata.entry_points(group="steady_queue.processes"):
        loaded = entry_point.load()
        processes[entry_point.name] = f"{loaded.__module__}.{loaded.__qualname__}"

print(
    json.dumps(
        {
            "status": fetched.status,
            "args": fetched.args,
            "version": steady_queue.__version__,
            "imported_from": steady_queue.__file__,
            "distributions": {name: installed(name) for name in DISTRIBUTIONS},
            "worker_importable": importable("steady_queue.worker"),
            "cron_importable": importable("steady_queue.cron"),
            "command_module": type(command).__module__,
            "command_has_help": "usage: manage.py steady_queue" in command_help,
            "command_error": command_error,
            "processes": processes,
            "runtime_imported": runtime_imported,
        }
    )
)
