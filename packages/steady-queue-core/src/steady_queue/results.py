"""TaskResult from the rows: the status a job's state tables imply, and its attempt history."""

from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.utils.module_loading import import_string

from steady_queue.cancellation import is_cancelled
from steady_queue.models import Job
from steady_queue.models.job import parse_result_id, result_id
from steady_queue.task import SteadyQueueTask


def build_result(task, job, *, status=None, running_claim=None):
    """A TaskResult for a job row. ``running_claim`` is the claimed execution of a running job."""
    worker_ids = list(job.worker_ids)
    started_at, last_attempted_at = job.started_at, job.last_attempted_at
    if running_claim is not None:
        worker_ids.append(running_claim.process.name if running_claim.process else "")
        started_at = started_at or running_claim.created_at
        last_attempted_at = running_claim.created_at
    result = TaskResult(
        task=task,
        id=result_id(job),
        status=status or TaskResultStatus.READY,
        enqueued_at=job.created_at,
        started_at=started_at,
        finished_at=job.finished_at,
        last_attempted_at=last_attempted_at,
        args=job.arguments.get("args", []),
        kwargs=job.arguments.get("kwargs", {}),
        backend=job.backend,
        errors=[
            TaskError(exception_class_path=error["exception_class_path"], traceback=error["traceback"])
            for error in job.errors
        ],
        worker_ids=worker_ids,
    )
    if status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", job.return_value)
    return result


def fetch_result(result_id):
    """The TaskResult of a job by result id, or None if there is no such job."""
    parsed = parse_result_id(result_id)
    if parsed is None:
        return None
    pk, token = parsed
    job = (
        Job.objects.select_related("claimedexecution__process", "failedexecution")
        .filter(pk=pk, token=token)
        .first()
    )
    if job is None:
        return None
    return build_result(
        restore_task(job), job, status=job_status(job), running_claim=getattr(job, "claimedexecution", None)
    )


def job_status(job):
    """Django's status for a job loaded with select_related("claimedexecution", "failedexecution")."""
    if getattr(job, "claimedexecution", None) is not None:
        return TaskResultStatus.RUNNING
    if getattr(job, "failedexecution", None) is not None:
        return TaskResultStatus.FAILED
    if job.finished_at is not None:
        # Cancelled while it waited: Django has no such status, and the task did not succeed.
        return TaskResultStatus.FAILED if is_cancelled(job) else TaskResultStatus.SUCCESSFUL
    # Ready, scheduled or blocked: Django has one word for all three.
    return TaskResultStatus.READY


def restore_task(job):
    """The Task a job row was enqueued for, with the row's own queue, priority and run time.

    Built without validation (the row was valid when written; settings may have changed since),
    and usable even when the task's module no longer imports, so a result can always be read.
    """
    try:
        original = import_string(job.task_path)
        problem = None if hasattr(original, "func") else "it is not a task"
    except Exception as error:  # a module may fail to import with any exception
        original, problem = None, f"{type(error).__name__}: {error}"
    # Most rows name a task at its own queue and priority, to run now: Tasks are immutable, so one
    # serves them all (building it took 7.7 of the 29.5 µs a worker spent running a no-op task).
    # Kept with the object it was built from, so a task redefined under the same path is built anew.
    key = None
    if problem is None and job.scheduled_at is None:
        key = (job.task_path, job.priority, job.backend, job.queue_name)
        cached = _restored.get(key)
        if cached is not None and cached[0] is original:
            return cached[1]
    func = original.func if problem is None else _missing_task_function(job.task_path, problem)
    if problem is not None:
        original = None
    task = object.__new__(type(original) if isinstance(original, SteadyQueueTask) else SteadyQueueTask)
    values = {
        "func": func,
        "priority": job.priority,
        "backend": job.backend,
        "queue_name": job.queue_name,
        "run_after": job.scheduled_at,
        "takes_context": getattr(original, "takes_context", False),
        "run_delay": None,
    }
    for name in type(task).__dataclass_fields__:
        object.__setattr__(task, name, values.get(name, getattr(original, name, None)))
    if key is not None:
        if len(_restored) >= RESTORED_MAX:
            _restored.clear()
        _restored[key] = (original, task)
    return task


# restore_task()'s Tasks by (path, priority, backend, queue): a handful for most projects; emptied
# when full rather than tracked, so a project with many combinations only builds some again.
RESTORED_MAX = 1024
_restored = {}


def _missing_task_function(path, problem):
    def missing(*args, **kwargs):
        raise ImportError(f"Task {path!r} can no longer be imported ({problem}).")

    module, _, name = path.rpartition(".")
    missing.__module__, missing.__name__, missing.__qualname__ = module, name, name
    return missing
