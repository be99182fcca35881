"""``manage.py steady_queue``: provided by steady-queue-worker when it is installed.

Django only finds commands inside the app's own directory, so core ships this module and hands
over to the worker distribution; a web host without it gets a clear message instead.
"""

try:
    from steady_queue.worker.command import Command
except ModuleNotFoundError as error:
    if error.name not in ("steady_queue.worker", "steady_queue.worker.command"):
        raise

    from django.core.management.base import BaseCommand, CommandError

    class Command(BaseCommand):
        help = "Run the Steady Queue supervisor (requires the steady-queue-worker package)."

        def handle(self, *args, **options):
            from steady_queue import __version__

            raise CommandError(
                "steady-queue-worker is not installed on this host, so it cannot run tasks here. Install "
                f"the steady-queue-worker distribution, version {__version__} like steady-queue-core: see the "
                "Installation page of the documentation (docs/installation.rst)."
            )
