"""``manage.py steady_queue``: start the supervisor with the configured workers and dispatchers."""

import logging
import sys

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils.log import RequireDebugTrue

import steady_queue
from steady_queue.conf import WORKER_DEFAULTS

from .configuration import positive_int, process_specs, queue_list
from .supervisor import Supervisor

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class Command(BaseCommand):
    help = (
        "Run Steady Queue: a supervisor that starts the workers and dispatchers configured in "
        "settings.STEADY_QUEUE and keeps them running. SIGTERM or SIGINT stops it gracefully (running "
        "tasks get STEADY_QUEUE['shutdown_timeout'] to finish, the rest go back to their queue); "
        "a second one, or SIGQUIT, stops it at once."
    )

    def get_version(self):
        return f"steady-queue {steady_queue.__version__} (Django {django.get_version()})"

    def add_arguments(self, parser):
        # Any of --queues, --threads and --processes describes the run's one worker pool
        # (configuration.process_specs); what is not given takes its default, not the settings' value.
        replaces = "Replaces the configured workers for this run"
        parser.add_argument(
            "--queues",
            type=queue_list,
            metavar="QUEUES",
            help="Comma-separated queues for one worker pool, in the order they are served: names, "
            f"'prefix*' or '*'. {replaces}, as do --threads and --processes.",
        )
        parser.add_argument(
            "--threads",
            type=positive_int,
            help=f"Threads per worker process (default {WORKER_DEFAULTS['threads']}). {replaces} with one "
            f"pool serving --queues (default '{','.join(WORKER_DEFAULTS['queues'])}').",
        )
        parser.add_argument(
            "--processes",
            type=positive_int,
            help=f"Worker processes for that pool (default {WORKER_DEFAULTS['processes']}). {replaces}, "
            "as do --queues and --threads.",
        )
        parser.add_argument(
            "--only-work", action="store_true", help="Start workers only: no dispatcher and no scheduler."
        )
        parser.add_argument(
            "--only-dispatch",
            action="store_true",
            help="Start dispatchers only: no worker and no scheduler. Cannot be combined with --only-work.",
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
    """Print Steady Queue's and django.tasks' log lines on stderr, alike, unless LOGGING handles them.

    django.tasks logs each task's start and end, and each failure with its traceback (Steady Queue
    does not log those again).
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    logger = logging.getLogger("steady_queue")
    if not (logger.handlers or root.handlers):
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
    if _tasks_logging_is_django_default():
        logging.getLogger("django.tasks").addHandler(handler)
        logging.getLogger("django.tasks").setLevel(level)
        # With DEBUG, Django's default console handler would print them a second time, unformatted.
        # It is filtered rather than bypassed (propagate=False), so that mail_admins still gets failures.
        for django_handler in logging.getLogger("django").handlers:
            if any(isinstance(f, RequireDebugTrue) for f in django_handler.filters):
                django_handler.addFilter(_not_from_tasks)


def _tasks_logging_is_django_default():
    """True if nothing but Django's DEFAULT_LOGGING decides where django.tasks lines go.

    That is when LOGGING configures neither django.tasks nor its parents ("django", the root
    logger), and no code has configured them either: then a project's own choice always wins.
    """
    config = settings.LOGGING if isinstance(settings.LOGGING, dict) else {}
    if "root" in config or {"", "django", "django.tasks"} & set(config.get("loggers", {})):
        return False
    tasks = logging.getLogger("django.tasks")
    if tasks.handlers or tasks.level != logging.NOTSET or not tasks.propagate or tasks.disabled:
        return False
    return not logging.getLogger().handlers


def _not_from_tasks(record):
    return record.name != "django.tasks" and not record.name.startswith("django.tasks.")
