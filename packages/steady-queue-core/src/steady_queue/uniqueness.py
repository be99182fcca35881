"""``@unique``: at most one pending task per key; enqueueing a duplicate returns that task's result.

The decorator only records the rule on the task. Enqueueing computes each call's key, then, in the
transaction that inserts the jobs, claims the keys in ``steady_queue_unique_key``, whose primary
key is the key: a call whose key another task holds inserts nothing and returns the holder's
TaskResult (see ``steady_queue.models.unique_key``). A worker's claim releases the keys held until
the task starts; the transaction that records a task's end releases those held until it finishes
(``release_unique_keys``). A release that was missed is made up for from the task's own state by
the next enqueue of the key, and by the dispatcher's purge.
"""

from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import connections, transaction
from django.tasks import Task, TaskResult, TaskResultStatus

from steady_queue.exceptions import SteadyQueueError
from steady_queue.task_keys import check_key_and_group, key_for_call, optional_duration

UNTIL = ("started", "finished")


class UniqueKeyError(SteadyQueueError, ValueError):
    """A unique key could not be computed for a call; raised at enqueue, nothing is written."""

    def __init__(self, task_path, problem):
        self.task_path = task_path
        super().__init__(f"The unique key of {task_path} {problem}")


@dataclass(frozen=True, slots=True)
class Uniqueness:
    key: object  # a string, or a callable taking the task's arguments
    until: str = "started"  # or "finished"
    window: timedelta | None = None
    group: str | None = None  # None: the task's module path

    def key_for(self, task, args, kwargs):
        """The full key of one call: '<group>/<key>'."""
        return key_for_call(self.key, self.group, task, args, kwargs, UniqueKeyError)


def unique(key, *, until="started", window=None, group=None):
    """Let at most one task with the same ``key`` be pending. Apply it outside ``@task()``.

    ``key`` is a string, or a callable that takes the task's arguments and returns a string or a
    saved model instance. While a task with the same group and key holds it, enqueueing another
    inserts nothing and returns the holding task's result. ``until`` says how long the key is
    held: ``"started"`` (default), until a worker takes the task; ``"finished"``, until it ends
    for good (retries included). ``window`` (a timedelta or seconds) holds it that much longer
    after that moment. ``group`` (default: the task's module path) lets different tasks share keys.
    """
    check_key_and_group("@unique", key, group)
    if until not in UNTIL:
        raise TypeError(f"@unique until must be 'started' or 'finished', not {until!r}.")
    window = optional_duration("@unique", "window", window)
    rule = Uniqueness(key=key, until=until, window=window, group=group)

    def decorator(task):
        if not isinstance(task, Task):
            raise TypeError(
                f"@unique must be applied outside @task(), to the task it returns; got {task!r}. "
                "Write @unique(...) above @task()."
            )
        if not hasattr(task, "uniqueness"):
            raise TypeError(
                f"@unique needs a task of SteadyQueueBackend; {task.module_path} uses backend {task.backend!r}."
            )
        if task.uniqueness is not None:
            raise TypeError(f"{task.module_path} is already unique.")
        return replace(task, uniqueness=rule)

    return decorator


def enqueue_or_find(task, args=(), kwargs=None):
    """Enqueue one call; return ``(result, True)``, or ``(the holder's result, False)`` when the
    task is unique and another task holds the call's key (nothing was enqueued).
    """
    from steady_queue.backend import SteadyQueueBackend
    from steady_queue.task import Call

    backend = task.get_backend()
    if not isinstance(backend, SteadyQueueBackend):
        return task.enqueue(*args, **(kwargs or {})), True
    return backend.enqueue_or_find(task, [Call(*args, **(kwargs or {}))])[0]


def insert_unique_jobs(task, jobs, now):
    """Insert the jobs whose keys no task holds, with their keys, in one transaction (or the caller's).

    ``jobs`` are unsaved, each with its ``unique_key``. Returns one entry per job: the Job that
    holds its key when this call inserted it (the first call of a key in the batch, and later
    calls of that key, which get the same Job), or the holding task's TaskResult.
    """
    from steady_queue.db import queue_database, retry_on_lock, write_transaction

    using = queue_database()

    @retry_on_lock
    def attempt():
        for job in jobs:
            # A lock error rolled back an earlier attempt: the rows it inserted are gone.
            job.pk, job._state.adding = None, True
        if connections[using].in_atomic_block:
            # No savepoint, as for any enqueue: a failure here dooms the caller's transaction anyway.
            with transaction.atomic(using=using, savepoint=False):
                return _insert(task, jobs, now, using)
        # BEGIN IMMEDIATE on SQLite: take the write lock before the first read.
        with write_transaction(using):
            return _insert(task, jobs, now, using)

    return attempt()


def _insert(task, jobs, now, using):
    from steady_queue.enqueueing import insert_jobs
    from steady_queue.models.unique_key import UniqueKey, assign, claim

    rule = task.uniqueness
    first = {}
    for job in jobs:
        first.setdefault(job.unique_key, job)
    candidates = [
        UniqueKey(key=key, until_finished=rule.until == "finished", hold_for=rule.window) for key in sorted(first)
    ]
    won, holders = claim(candidates, now, using)
    taken = {row.key for row in won}
    new = [job for key, job in first.items() if key in taken]
    if new:
        insert_jobs(new, now)
        assign(won, {job.unique_key: job for job in new}, using)
    held = {key: holder_result(task, row, job) for key, (row, job) in holders.items()}
    return [first[job.unique_key] if job.unique_key in taken else held[job.unique_key] for job in jobs]


def holder_result(task, row, job):
    """The TaskResult of the task holding a key: read from its job, as ``get_result()`` reads it.

    A key held for a window after its task ended may outlive the task's row (cleared finished
    tasks, ``preserve_finished_jobs`` off). Such a result keeps the holder's id and reads
    SUCCESSFUL, as tasks are only cleared after they finish; ``get_result()`` of that id raises
    TaskResultDoesNotExist, as for any cleared task.
    """
    from steady_queue.results import build_result, job_status, restore_task

    if job is not None:
        return build_result(
            restore_task(job), job, status=job_status(job), running_claim=getattr(job, "claimedexecution", None)
        )
    return TaskResult(
        task=task,
        id=row.result_id,
        status=TaskResultStatus.SUCCESSFUL,
        enqueued_at=row.created_at,
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=[],
        kwargs={},
        backend=task.backend,
        errors=[],
        worker_ids=[],
    )
