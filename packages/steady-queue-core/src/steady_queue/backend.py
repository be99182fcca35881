from django.apps import apps
from django.core import checks
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from steady_queue import arguments, queue_patterns
from steady_queue.attempts import check_options
from steady_queue.conf import get_config
from steady_queue.enqueueing import insert_jobs
from steady_queue.models import Job
from steady_queue.models.job import new_job, new_result_tokens
from steady_queue.results import build_result, fetch_result
from steady_queue.task import Call, SteadyQueueTask
from steady_queue.uniqueness import insert_unique_jobs


class SteadyQueueBackend(BaseTaskBackend):
    """Stores tasks in the database for ``manage.py steady_queue`` to run."""

    task_class = SteadyQueueTask

    supports_defer = True
    # Run by steady-queue-worker, in its own event loop per task.
    supports_async_task = True
    supports_priority = True
    supports_get_result = True

    def __init__(self, alias, params):
        super().__init__(alias, params)
        # As in Solid Queue, any queue name is accepted unless QUEUES lists the allowed ones. Django's
        # own default would allow only "default", so that copying an example with another queue
        # fails at import.
        if "QUEUES" not in params:
            self.queues = set()

    def validate_task(self, task):
        if self.queues and task.queue_name not in self.queues:
            raise InvalidTask(
                f"Queue {task.queue_name!r} is not in TASKS[{self.alias!r}]['QUEUES'] "
                f"({', '.join(sorted(self.queues))}): add it there, or remove 'QUEUES' to accept any queue name."
            )
        super().validate_task(task)
        if isinstance(task, SteadyQueueTask):
            check_options(task)
        run_delay = getattr(task, "run_delay", None)
        if run_delay is not None and task.run_after is not None:
            raise InvalidTask("A task cannot have both a run_after time and a delay.")

    def enqueue(self, task, args, kwargs):
        return self.enqueue_many(task, [Call(*args, **kwargs)])[0]

    def enqueue_many(self, task, calls):
        """Enqueue several calls of one task at once; see SteadyQueueTask.enqueue_many()."""
        return self._enqueue(task, calls)[0]

    def enqueue_or_find(self, task, calls):
        """enqueue_many(), each result paired with whether this call enqueued it.

        False for a call of a ``@unique`` task whose key another task holds (or an earlier call of
        the batch took): nothing was enqueued for it, and its result is the holder's.
        """
        results, enqueued = self._enqueue(task, calls)
        return list(zip(results, enqueued or [True] * len(results), strict=True))

    def _enqueue(self, task, calls):
        """The results of the calls, and whether each was enqueued (None: all were)."""
        self.validate_task(task)
        now = timezone.now()
        scheduled_at = task.run_after
        run_delay = getattr(task, "run_delay", None)
        if run_delay is not None:
            scheduled_at = now + run_delay
        limit = getattr(task, "concurrency", None)
        duration = limit.effective_duration() if limit else None
        max_attempts = getattr(task, "max_attempts", None) or get_config().max_attempts
        retry_lost = getattr(task, "retry_lost", False)
        uniqueness = getattr(task, "uniqueness", None)
        # Every argument and key is worked out before the first row is written: bad input writes nothing.
        calls = list(calls)
        jobs = []
        for call, token in zip(calls, new_result_tokens(len(calls)), strict=True):
            call = Call.coerce(call)
            args, kwargs = arguments.serialize(call.args, call.kwargs)
            jobs.append(
                new_job(
                    task_path=task.module_path,
                    queue_name=task.queue_name,
                    priority=task.priority,
                    backend=self.alias,
                    arguments={"args": args, "kwargs": kwargs},
                    scheduled_at=scheduled_at,
                    created_at=now,
                    concurrency_key=limit.key_for(task, call.args, call.kwargs) if limit else None,
                    concurrency_limit=limit.to if limit else None,
                    concurrency_duration=duration,
                    max_attempts=max_attempts,
                    retry_lost=retry_lost,
                    unique_key=uniqueness.key_for(task, call.args, call.kwargs) if uniqueness else None,
                    token=token,
                )
            )
        if not jobs:
            return [], None
        if uniqueness is not None:
            return self._enqueue_unique(task, jobs, now, scheduled_at if run_delay is not None else None)
        insert_jobs(jobs, now)
        if run_delay is not None:
            task = self.task_class.using(task, run_after=scheduled_at)
        results = [build_result(task, job) for job in jobs]
        for result in results:
            task_enqueued.send(type(self), task_result=result)
        return results, None

    def _enqueue_unique(self, task, jobs, now, run_after):
        """_enqueue() of a @unique task: calls whose key is held get the holder's result."""
        entries = insert_unique_jobs(task, jobs, now)
        if run_after is not None:
            task = self.task_class.using(task, run_after=run_after)
        built, results, enqueued = {}, [], []
        for entry in entries:
            if isinstance(entry, Job):
                # The first call of a key the batch enqueued; later calls of the key share its result.
                new = id(entry) not in built
                if new:
                    built[id(entry)] = build_result(task, entry)
                results.append(built[id(entry)])
                enqueued.append(new)
            else:
                results.append(entry)
                enqueued.append(False)
        for result, new in zip(results, enqueued, strict=True):
            if new:
                task_enqueued.send(type(self), task_result=result)
        return results, enqueued

    def get_result(self, result_id):
        result = fetch_result(result_id)
        if result is None:
            raise TaskResultDoesNotExist(result_id)
        return result

    def check(self, **kwargs):
        if not apps.is_installed("steady_queue"):
            yield checks.Error(
                f"{type(self).__name__} is used by TASKS[{self.alias!r}] but 'steady_queue' is not in "
                "INSTALLED_APPS.",
                hint="Add 'steady_queue' to INSTALLED_APPS and run 'manage.py migrate'.",
                id="steady_queue.E001",
            )
        for name in sorted(self.queues):
            problem = queue_patterns.problem(name) or ("*" in name and f"queue name {name!r} may not contain '*'.")
            if problem:
                yield checks.Error(f"TASKS[{self.alias!r}]['QUEUES']: {problem}", id="steady_queue.E002")
        unknown_options = sorted(set(self.options) - self.known_options)
        if unknown_options:
            yield checks.Error(
                f"TASKS[{self.alias!r}]['OPTIONS'] has unknown keys: {', '.join(unknown_options)}.",
                hint="Steady Queue is configured through settings.STEADY_QUEUE.",
                id="steady_queue.E003",
            )

    known_options = frozenset()
