"""Enqueue a task once the application's transaction commits.

On the queue's own database a plain ``enqueue()`` is part of the caller's transaction. With a
separate queue database (``STEADY_QUEUE["database"]``) it commits on its own, at once: the task may
run although the application's transaction then rolls back, or before its rows are visible.
``enqueue_on_commit`` waits for the application's commit instead, at a price: a crash between that
commit and the enqueue loses the task (docs/queue-database.rst says which to choose when).

Django has no ``Task.enqueue_on_commit()`` (proposed in django/new-features#161); this is a function
rather than a method of the task so that it cannot clash with one if Django adds it.
"""

from functools import partial

from django.db import transaction


def enqueue_on_commit(task, args=(), kwargs=None, *, using=None, robust=False):
    """Enqueue ``task(*args, **kwargs)`` when the transaction open on ``using`` commits; never if it rolls back.

    ``using`` is the application's database alias whose transaction decides (default: the default
    database), as for ``transaction.on_commit``; outside a transaction the task is enqueued at once.
    ``robust=True`` logs a failed enqueue instead of raising it from the commit. Returns None: the
    task has no result id before it is enqueued.
    """
    kwargs = {} if kwargs is None else kwargs
    _check_arguments(task, args, kwargs)
    transaction.on_commit(partial(task.enqueue, *args, **kwargs), using=using, robust=robust)


def _check_arguments(task, args, kwargs):
    """Arguments the queue cannot store fail now, inside the caller's transaction, not after its commit."""
    from steady_queue.arguments import serialize
    from steady_queue.backend import SteadyQueueBackend

    if isinstance(task.get_backend(), SteadyQueueBackend):
        serialize(args, kwargs)
