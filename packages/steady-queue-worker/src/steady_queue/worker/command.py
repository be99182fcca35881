"""``manage.py steady_queue``: start the supervisor with the configured workers and dispatchers."""

import logging
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from .configuration import positive_int, process_specs, queue_list
from .supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run Steady Queue: a supervisor that starts the workers and dispatchers configured in "
        "settings.STEADY_QUEUE and keeps them running. SIGTERM or SIGINT stops it gracefully (running "
        "tasks get STEADY_QUEUE['shutdown_timeout'] to finish, the rest go back to their queue); "
        "SIGQUIT stops it at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queues",
            type=queue_list,
            metavar="QUEUES",
            help="Comma-separated queues for a single worker pool, in the order they are served: names, "
            "'prefix*' or '*'. With --threads or --processes, replaces the configured workers for this run.",
        )
        parser.add_argument(
            "--threads", type=positive_int, help="Threads per worker process for this run (default 3)."
        )
        parser.add_argument(
            "--processes", type=positive_int, help="Worker processes to start for this run (default 1)."
        )
        parser.add_argument(
            "--only-work", action="store_true", help="Start workers only, no dispatcher (nor scheduler)."
        )
        parser.add_argument(
            "--only-dispatch", action="store_true", help="Start dispatchers only, no worker."
        )
        parser.add_argument(
            "--skip-recurring",
            action="store_true",
            help="Do not start the recurring-task scheduler, even if steady-queue-cron is installed.",
        )

    def handle(self, *args, **options):
        _show_logs(options["verbosity"])
        try:
            specs = process_specs(
                queues=options["queues"],
                threads=options["threads"],
                processes=options["processes"],
                only_work=options["only_work"],
                only_dispatch=options["only_dispatch"],
                skip_recurring=options["skip_recurring"],
            )
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        status = Supervisor(specs).run()
        if status:
            sys.exit(status)


def _show_logs(verbosity):
    """Print Steady Queue's log lines on stderr unless the project's LOGGING already handles them."""
    logger = logging.getLogger("steady_queue")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
