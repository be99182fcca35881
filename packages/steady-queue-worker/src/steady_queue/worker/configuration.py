"""From settings.STEADY_QUEUE and the command's flags to the list of processes to start."""

import argparse
import logging
from dataclasses import replace
from importlib.metadata import entry_points

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from steady_queue import queue_patterns
from steady_queue.conf import WORKER_DEFAULTS, WorkerConfig, get_config

from .dispatcher import Dispatcher
from .supervisor import ProcessSpec
from .worker import Worker

logger = logging.getLogger("steady_queue.supervisor")


def queue_list(value):
    """argparse type for --queues: comma-separated names or patterns."""
    names = [name.strip() for name in value.split(",")]
    for name in names:
        problem = queue_patterns.problem(name)
        if problem:
            raise argparse.ArgumentTypeError(problem)
    return tuple(names)


def positive_int(value):
    """argparse type for counts that must be 1 or more."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def process_specs(
    *, queues=None, threads=None, processes=None, only_work=False, only_dispatch=False, skip_recurring=False
):
    """The processes the supervisor should start; raise ImproperlyConfigured on a bad combination."""
    config = get_config()
    if only_work and only_dispatch:
        raise ImproperlyConfigured("--only-work and --only-dispatch cannot be used together.")
    workers = list(config.workers)
    if queues or threads or processes:
        # Flags describe one worker pool for this run, instead of the configured ones.
        base = WorkerConfig(**{**WORKER_DEFAULTS, "queues": tuple(WORKER_DEFAULTS["queues"])})
        workers = [
            replace(
                base,
                queues=queues or base.queues,
                threads=threads or base.threads,
                processes=processes or base.processes,
            )
        ]
    specs = []
    if not only_dispatch:
        for worker in workers:
            specs += [ProcessSpec(Worker, {"worker_config": worker}) for _ in range(worker.processes)]
    if not only_work:
        specs += [ProcessSpec(Dispatcher, {"dispatcher_config": d}) for d in config.dispatchers]
    if not (only_work or only_dispatch or skip_recurring):
        specs += scheduler_specs()
    if not specs:
        raise ImproperlyConfigured("Nothing to run: STEADY_QUEUE configures no workers and no dispatchers.")
    return specs


def scheduler_specs():
    """The recurring-task scheduler, when steady-queue-cron is installed and there is something to schedule.

    Found through the ``steady_queue.processes`` entry point, so that the worker never imports cron.
    """
    from steady_queue.recurring_task import RecurringTaskError, recurring_tasks

    # @recurring runs when its module is imported: import every app's tasks module first.
    autodiscover_modules("tasks")
    try:
        specs = recurring_tasks()
    except RecurringTaskError as error:
        raise ImproperlyConfigured(str(error)) from error
    if not specs:
        return []
    found = entry_points(group="steady_queue.processes", name="scheduler")
    if not found:
        logger.warning(
            "%d recurring task(s) are defined but steady-queue-cron is not installed: they will not be "
            "enqueued by this host (install steady-queue-cron: see the Installation page of the documentation).",
            len(specs),
        )
        return []
    return [ProcessSpec(next(iter(found)).load())]
