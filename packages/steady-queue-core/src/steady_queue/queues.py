"""Queues: pausing and resuming them."""

import logging

from steady_queue import queue_patterns
from steady_queue.db import retry_on_lock
from steady_queue.models import Pause

logger = logging.getLogger("steady_queue.queues")


def allowed_queue_names():
    """The queue names Steady Queue's backends accept, or None when one of them accepts any name."""
    from django.tasks import task_backends

    from steady_queue.backend import SteadyQueueBackend

    names = set()
    for backend in task_backends.all():
        if isinstance(backend, SteadyQueueBackend):
            if not backend.queues:
                return None
            names |= backend.queues
    return names


@retry_on_lock
def pause(queue_name):
    """Stop workers from taking tasks of a queue (running ones finish). True if it was not paused."""
    problem = queue_patterns.problem(queue_name)
    if problem or "*" in queue_name:
        raise ValueError(problem or f"pause() takes a queue name, not a pattern: {queue_name!r}.")
    allowed = allowed_queue_names()
    if allowed is not None and queue_name not in allowed:
        # A typo would otherwise pause nothing and say it did.
        raise ValueError(
            f"No backend has a queue {queue_name!r}: the QUEUES of the Steady Queue backends in TASKS "
            f"list {', '.join(sorted(allowed)) or 'none'}."
        )
    _, created = Pause.objects.get_or_create(queue_name=queue_name)
    if created:
        logger.info("Paused queue %s", queue_name)
    return created


@retry_on_lock
def resume(queue_name):
    """Let workers take tasks of a paused queue again. True if it was paused."""
    deleted, _ = Pause.objects.filter(queue_name=queue_name).delete()
    if deleted:
        logger.info("Resumed queue %s", queue_name)
    return bool(deleted)


def paused_queues():
    """The names of the paused queues."""
    return sorted(Pause.objects.values_list("queue_name", flat=True))
