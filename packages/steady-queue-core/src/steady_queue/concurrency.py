"""``@limits_concurrency``: at most ``to`` tasks with the same key run at once.

The decorator only records the limit on the task. Enqueueing computes each call's key; a job whose
key has no free slot waits as a blocked execution and is released, highest priority first, in the
same transaction that records the outcome of the task that held the slot.
"""

from dataclasses import dataclass, replace
from datetime import timedelta

from django.tasks import Task

from steady_queue.exceptions import SteadyQueueError
from steady_queue.task_keys import check_key_and_group, key_for_call, optional_duration


class ConcurrencyKeyError(SteadyQueueError, ValueError):
    """A concurrency key could not be computed for a call; raised at enqueue, nothing is written."""

    def __init__(self, task_path, problem):
        self.task_path = task_path
        super().__init__(f"The concurrency key of {task_path} {problem}")


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit:
    key: object  # a string, or a callable taking the task's arguments
    to: int = 1
    duration: timedelta | None = None  # None: settings' default_concurrency_control_period
    group: str | None = None  # None: the task's module path

    def key_for(self, task, args, kwargs):
        """The full semaphore key of one call: '<group>/<key>'."""
        return key_for_call(self.key, self.group, task, args, kwargs, ConcurrencyKeyError)

    def effective_duration(self):
        if self.duration is not None:
            return self.duration
        from steady_queue.conf import get_config

        return get_config().default_concurrency_control_period


def limits_concurrency(key, to=1, duration=None, group=None):
    """Limit how many tasks with the same ``key`` run at the same time. Apply it outside ``@task()``.

    ``key`` is a string, or a callable that takes the task's arguments and returns a string or a
    saved model instance. At most ``to`` tasks with the same group and key run at once; the others
    wait, blocked, and start highest priority first as slots free up. ``duration`` (a timedelta or
    seconds; default ``steady_queue.default_concurrency_control_period``) is how long a slot is
    guaranteed: the dispatcher may reclaim slots of a key left untouched for longer. ``group`` (default:
    the task's module path) lets different tasks share one limit.
    """
    check_key_and_group("@limits_concurrency", key, group)
    if isinstance(to, bool) or not isinstance(to, int) or to < 1:
        raise TypeError(f"@limits_concurrency to must be a whole number of at least 1, not {to!r}.")
    duration = optional_duration("@limits_concurrency", "duration", duration)
    limit = ConcurrencyLimit(key=key, to=to, duration=duration, group=group)

    def decorator(task):
        if not isinstance(task, Task):
            raise TypeError(
                f"@limits_concurrency must be applied outside @task(), to the task it returns; "
                f"got {task!r}. Write @limits_concurrency(...) above @task()."
            )
        if not hasattr(task, "concurrency"):
            raise TypeError(
                f"@limits_concurrency needs a task of SteadyQueueBackend; {task.module_path} uses "
                f"backend {task.backend!r}."
            )
        if task.concurrency is not None:
            raise TypeError(f"{task.module_path} already has a concurrency limit.")
        return replace(task, concurrency=limit)

    return decorator
