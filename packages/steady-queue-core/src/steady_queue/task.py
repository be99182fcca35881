from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.tasks import Task


class Call:
    """The arguments of one call of a task, for ``enqueue_many``: ``Call(user.pk, notify=True)``."""

    __slots__ = ("args", "kwargs")

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def __repr__(self):
        parts = [repr(arg) for arg in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"Call({', '.join(parts)})"

    @classmethod
    def coerce(cls, call):
        if isinstance(call, cls):
            return call
        if isinstance(call, tuple):
            return cls(*call)
        if isinstance(call, dict):
            return cls(**call)
        raise TypeError(
            f"enqueue_many() takes Call(...) objects, tuples of positional arguments or dicts of keyword "
            f"arguments, not {type(call).__name__}: {call!r}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SteadyQueueTask(Task):
    """A django.tasks Task with a delay and the options of steady_queue.attempts.

    ``using(run_after=timedelta(...))`` sets a delay. It is kept as given and turned into a time at
    each enqueue, so a task configured once at import time still runs that long after every
    enqueue, not after the import. ``@task(max_attempts=3, timeout=30)`` sets the attempts and their
    time limit (see steady_queue.attempts).
    """

    run_delay: timedelta | None = None
    # Set by @limits_concurrency (a steady_queue.concurrency.ConcurrencyLimit).
    concurrency: object = None
    # Set by @unique (a steady_queue.uniqueness.Uniqueness).
    uniqueness: object = None
    # Attempts and timeouts: see steady_queue.attempts. None: the STEADY_QUEUE default.
    max_attempts: int | None = None
    backoff: Callable | None = None
    retry_on: tuple = (Exception,)
    never_retry_on: tuple = ()
    retry_lost: bool = False
    timeout: float | timedelta | None = None

    def using(self, *, priority=None, queue_name=None, run_after=None, backend=None):
        changes = {
            name: value
            for name, value in (("priority", priority), ("queue_name", queue_name), ("backend", backend))
            if value is not None
        }
        if isinstance(run_after, timedelta):
            changes.update(run_after=None, run_delay=run_after)
        elif run_after is not None:
            changes.update(run_after=run_after, run_delay=None)
        return replace(self, **changes)

    def enqueue_many(self, calls):
        """Enqueue many calls of this task in one transaction and a fixed number of statements.

        Each call is a ``steady_queue.Call(*args, **kwargs)``, a tuple of positional arguments or a
        dict of keyword arguments. Returns one TaskResult per call, in order.
        """
        return self.get_backend().enqueue_many(self, calls)

    async def aenqueue_many(self, calls):
        """See enqueue_many()."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.enqueue_many, thread_sensitive=True)(calls)
