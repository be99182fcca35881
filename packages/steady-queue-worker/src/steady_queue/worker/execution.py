"""Running one claimed job: arguments, context, Django's signals, and the outcome recorded."""

import json
import logging
import time
import traceback

from django.db import DatabaseError
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from steady_queue.arguments import deserialize
from steady_queue.backend import SteadyQueueBackend
from steady_queue.models.claimed_execution import fail, finish
from steady_queue.results import build_result, restore_task

from .process import close_thread_connections

logger = logging.getLogger("steady_queue.worker")

RECORD_ATTEMPTS = 8


class Execution:
    """One attempt at one job, by one worker process."""

    def __init__(self, job, *, process_id, worker_name, preserve_finished_jobs):
        self.job = job
        self.process_id = process_id
        self.worker_name = worker_name
        self.preserve = preserve_finished_jobs
        self.started_at = timezone.now()

    def perform(self):
        job = self.job
        task = restore_task(job)
        result = build_result(task, job, status=TaskResultStatus.RUNNING)
        object.__setattr__(result, "started_at", job.started_at or self.started_at)
        object.__setattr__(result, "last_attempted_at", self.started_at)
        result.worker_ids.append(self.worker_name)
        sender = SteadyQueueBackend
        task_started.send(sender=sender, task_result=result)
        try:
            args, kwargs = deserialize(job.arguments.get("args", []), job.arguments.get("kwargs", {}))
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = task.call(*args, **kwargs)
            return_value = self._as_json(value, job.task_path)
        except BaseException as error:
            # BaseException: a task calling sys.exit() fails like any other; the worker goes on.
            formatted = "".join(traceback.format_exception(error))
            kind = type(error)
            record = {
                "exception_class_path": f"{kind.__module__}.{kind.__qualname__}",
                "message": str(error),
                "traceback": formatted,
            }
            recorded = self._record(fail, record)
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
            object.__setattr__(result, "finished_at", timezone.now())
            result.errors.append(TaskError(exception_class_path=record["exception_class_path"], traceback=formatted))
            logger.error(
                "Task %s (job %s) failed: %s: %s", job.task_path, job.pk, record["exception_class_path"], error
            )
            if recorded:
                # Sent inside the except block, so that Django's own receiver logs the traceback.
                task_finished.send(sender=sender, task_result=result)
        else:
            if self._record(finish, return_value, preserve=self.preserve):
                object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
                object.__setattr__(result, "finished_at", timezone.now())
                object.__setattr__(result, "_return_value", return_value)
                task_finished.send(sender=sender, task_result=result)

    @staticmethod
    def _as_json(value, task_path):
        try:
            value = normalize_json(value)
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"The return value of {task_path} cannot be stored as JSON: {error}") from error
        return value

    def _record(self, outcome, *args, **kwargs):
        """Record the outcome, riding out a short database outage; False if the claim was lost."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                recorded = outcome(self.job, self.process_id, self.worker_name, self.started_at, *args, **kwargs)
                break
            except DatabaseError as error:
                if attempt == RECORD_ATTEMPTS:
                    logger.error(
                        "Could not record the outcome of job %s: %s; it stays claimed until its process "
                        "stops or is pruned",
                        self.job.pk,
                        error,
                    )
                    return False
                close_thread_connections()
                time.sleep(min(5.0, 0.25 * 2**attempt))
        if not recorded:
            logger.warning(
                "Job %s finished after its claim was taken away (its process was declared dead); "
                "the outcome was not recorded",
                self.job.pk,
            )
        return recorded
