"""Cancelling tasks: a waiting task is taken out of its queue for good; a running one is asked to stop.

A task that is ready, scheduled or blocked is cancelled by deleting its state row and finishing
the job in one transaction: ``finished_at`` and ``cancelled_at`` set to the same instant, and a
``TaskCancelled`` entry appended to its errors, so that ``get_result()`` reads FAILED (Django has
no status for "cancelled"). It gets no failed row: retrying failed tasks never brings it back.

The state row decides every race. Deleting it takes the row's lock, the same lock a worker's claim
(``FOR UPDATE SKIP LOCKED``), the dispatcher and the release of blocked tasks take before they move
a task; whichever transaction removes the row wins, and the other finds it gone. On SQLite, where
the whole database is locked instead, both run in ``write_transaction()``, one after the other.
The states are tried in the order tasks move through them (scheduled, blocked, ready), each
statement seeing what committed before it, so a task moving forward meanwhile is caught in its new
state. A ready task of a concurrency-limited task held a slot: it is handed on in the same
transaction. Scheduled and blocked tasks hold none.

A running task is not stopped: ``cancel()`` records the request (``cancelled_at`` on a claimed
job) and the task may look for it with ``cancel_requested(context)``. Whatever it then does is its
outcome: returning reads SUCCESSFUL, raising reads FAILED.
"""

import logging

from django.db.models import Exists, OuterRef
from django.utils import timezone

from steady_queue.db import lock, retry_on_lock, write_transaction
from steady_queue.exceptions import TaskCancelled
from steady_queue.models import BlockedExecution, ClaimedExecution, Job, ReadyExecution, ScheduledExecution
from steady_queue.models.job import existing_job_ids, parse_result_id
from steady_queue.models.tables import dialect, table
from steady_queue.models.unique_key import release_unique_keys

logger = logging.getLogger("steady_queue.cancellation")

# In the order tasks move through them: a task moving on while a cancel runs is met in its new state.
WAITING_STATES = (("scheduled", ScheduledExecution), ("blocked", BlockedExecution), ("ready", ReadyExecution))

# How many times cancel() looks again for a task that was between two states (a retry being
# scheduled as the cancel ran): the next look finds it settled.
LOOKS = 3

MAX_BATCH_SIZE = 10_000


def cancel(result_id, *, by=None):
    """Cancel one task by its result id (``TaskResult.id``). True if this call cancelled it.

    A ready, scheduled or blocked task is cancelled: it never runs, and ``get_result()`` reads
    FAILED with a ``TaskCancelled`` error last. False when there is nothing to cancel: the task has
    finished, failed or been cancelled already, or no task has that id. A running task is not
    stopped (False is returned), but the request is recorded for ``cancel_requested()`` to see.
    ``by`` names who cancelled, for the error's message ("admin user alice").
    """
    if not isinstance(result_id, str):
        raise TypeError(f"cancel() takes a result id (TaskResult.id, a string), not {result_id!r}.")
    parsed = parse_result_id(result_id)
    if parsed is None or not Job.objects.filter(pk=parsed[0], token=parsed[1]).exists():
        return False
    pk = parsed[0]
    for _ in range(LOOKS):
        if _cancel_waiting([pk], by):
            logger.info("Cancelled task %s", result_id)
            return True
        if _request_if_running(pk):
            logger.info("Task %s is running: its cancellation was requested", result_id)
            return False
        if not _waiting(pk):
            return False
    return False


def cancel_many(*, queue_name=None, task_path=None, result_ids=None, queryset=None, batch_size=500, by=None):
    """Cancel every waiting (ready, scheduled or blocked) task that matches all the criteria given.

    ``queue_name`` and ``task_path`` (``"myapp.tasks.send_email"``) select by exact value;
    ``result_ids`` is a list of result ids (or job row ids); ``queryset`` is a queryset of jobs, or
    of ready, scheduled or blocked rows. At least one criterion is needed. Running tasks are left
    alone (see ``cancel()``). Works in transactions of at most ``batch_size`` tasks, up to the last
    task enqueued when it started, so a steady stream of new tasks cannot keep it going. Returns the
    number cancelled.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE}, not {batch_size!r}.")
    candidates = _candidates(queue_name, task_path, result_ids, queryset)
    ceiling = candidates.order_by("-pk").values_list("pk", flat=True).first()
    total, after = 0, 0
    while ceiling is not None:
        ids = list(
            candidates.filter(pk__gt=after, pk__lte=ceiling).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        total += len(_cancel_waiting(ids, by))
        after = ids[-1]
    if total:
        logger.info("Cancelled %d task(s)", total)
    return total


def cancel_requested(task):
    """Whether a running task was asked to stop: ``cancel()`` was called while it ran.

    ``task`` is the task's context (``@task(takes_context=True)``), its TaskResult, or a result
    id. One query; a task may call it as often as it likes, say once per item it works through.
    """
    result_id = task
    for attribute in ("task_result", "id"):
        if not isinstance(result_id, str):
            result_id = getattr(result_id, attribute, result_id)
    if not isinstance(result_id, str):
        raise TypeError(f"cancel_requested() takes a task's context, its TaskResult or a result id, not {task!r}.")
    parsed = parse_result_id(result_id)
    if parsed is None:
        return False
    running = Exists(ClaimedExecution.objects.filter(job_id=OuterRef("pk")))
    return Job.objects.filter(running, pk=parsed[0], token=parsed[1], cancelled_at__isnull=False).exists()


def is_cancelled(job):
    """Whether a cancellation is what finished the job (not a request its task outlived)."""
    return job.cancelled_at is not None and job.finished_at == job.cancelled_at


def _candidates(queue_name, task_path, result_ids, queryset):
    if queue_name is None and task_path is None and result_ids is None and queryset is None:
        raise ValueError("cancel_many() needs at least one of queue_name, task_path, result_ids or queryset.")
    # Waiting tasks have no finished_at: it narrows the scan to the unfinished jobs' index entries.
    jobs = Job.objects.filter(finished_at__isnull=True)
    if queue_name is not None:
        jobs = jobs.filter(queue_name=queue_name)
    if task_path is not None:
        jobs = jobs.filter(task_path=task_path)
    if result_ids is not None:
        if isinstance(result_ids, (str, int)):
            raise TypeError(f"result_ids takes a list of result ids, not {result_ids!r}.")
        jobs = jobs.filter(pk__in=existing_job_ids(result_ids))
    if queryset is not None:
        if queryset.model is Job:
            jobs = jobs.filter(pk__in=queryset.values("pk"))
        elif queryset.model in [model for _, model in WAITING_STATES]:
            jobs = jobs.filter(pk__in=queryset.values("job_id"))
        else:
            raise TypeError(
                f"queryset must select jobs, or ready, scheduled or blocked rows, not {queryset.model.__name__}."
            )
    waiting = [Exists(model.objects.filter(job_id=OuterRef("pk"))) for _, model in WAITING_STATES]
    return jobs.filter(waiting[0] | waiting[1] | waiting[2])


@retry_on_lock
def _cancel_waiting(job_ids, by):
    """Cancel those of the jobs that are still waiting, in one transaction; return their ids."""
    now = timezone.now()
    taken = {}
    with write_transaction():
        for waiting, model in WAITING_STATES:
            for pk in _take(model, [pk for pk in job_ids if pk not in taken]):
                taken[pk] = waiting
        if not taken:
            return []
        jobs = list(Job.objects.filter(pk__in=taken).only("errors", "token", "unique_key", *SLOT_FIELDS).order_by("pk"))
        records = {waiting: TaskCancelled(waiting, now, by).as_record() for waiting, _ in WAITING_STATES}
        for job in jobs:
            job.finished_at = job.cancelled_at = now
            job.errors = [*job.errors, records[taken[job.pk]]]
        Job.objects.bulk_update(jobs, ["finished_at", "cancelled_at", "errors"])
        release_unique_keys(jobs, now)
        # A ready task of a limited task held a slot (a blocked or scheduled one did not): hand it on.
        # Keys in order, so that two cancels lock the semaphores in the same order.
        from steady_queue.models.admission import release_slot

        held = sorted((j for j in jobs if j.concurrency_key and taken[j.pk] == "ready"), key=_slot_order)
        for job in held:
            release_slot(job, now)
    return sorted(taken)


SLOT_FIELDS = ("concurrency_key", "concurrency_limit", "concurrency_duration")


def _slot_order(job):
    return job.concurrency_key, job.pk


def _take(model, job_ids):
    """Delete the state rows of these jobs that still exist; return the ids of those deleted.

    Only the transaction whose DELETE removes a row may move its job: if a claim (or the dispatcher)
    holds the row's lock, the DELETE waits for it and then finds the row gone.
    """
    if not job_ids:
        return []
    sql = dialect()
    if sql.deletes_with_returning:
        return sql.take(table(model, sql.alias), job_ids)
    using = sql.alias
    # Databases without DELETE ... RETURNING: lock the rows (waiting for a claim that holds them), then delete.
    rows = model.objects.using(using).filter(job_id__in=job_ids)
    locked = list(lock(rows).values_list("job_id", flat=True))
    rows.filter(job_id__in=locked).delete()
    return locked


@retry_on_lock
def _request_if_running(pk):
    """Record a cancel request on a running job. True if the job is running (requested before or now)."""
    running = Exists(ClaimedExecution.objects.filter(job_id=OuterRef("pk")))
    if Job.objects.filter(running, pk=pk, cancelled_at__isnull=True).update(cancelled_at=timezone.now()):
        return True
    return ClaimedExecution.objects.filter(job_id=pk).exists()


def _waiting(pk):
    return any(model.objects.filter(job_id=pk).exists() for _, model in WAITING_STATES)
