"""Running one claimed job: arguments, context, Django's signals, and the outcome recorded."""

import asyncio
import inspect
import json
import logging
import sys
import threading
import traceback
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.db import DatabaseError
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from steady_queue.arguments import deserialize
from steady_queue.attempts import retry_delay, seconds
from steady_queue.backend import SteadyQueueBackend
from steady_queue.cancellation import cancel_requested
from steady_queue.conf import get_config
from steady_queue.exceptions import BackoffError, TaskTimeout
from steady_queue.models.claimed_execution import Success, fail, finish
from steady_queue.results import build_result, restore_task
from steady_queue.retrying import UNTIL_RECORDED, close_thread_connections

logger = logging.getLogger("steady_queue.worker")


def error_record(error):
    """What is stored of an exception: class path, message and full traceback (NUL-free)."""
    kind = type(error)
    return {
        "exception_class_path": f"{kind.__module__}.{kind.__qualname__}",
        "message": _printable(str(error)),
        "traceback": _printable("".join(traceback.format_exception(error))),
    }


def _printable(text):
    # PostgreSQL cannot store NUL characters in text or JSON.
    return text.replace("\x00", "\\x00")


class Attempt:
    """One attempt at one job, by one worker process."""

    def __init__(self, job, *, process_id, worker_name, preserve_finished_jobs, finisher=None, watchdog=None):
        self.job = job
        self.finisher = finisher
        self.watchdog = watchdog
        self.process_id = process_id
        self.worker_name = worker_name
        self.preserve = preserve_finished_jobs
        self.started_at = timezone.now()
        self.task = self.result = None
        self.thread_id = threading.get_ident()
        # Set when the watchdog took the attempt over at its deadline: its outcome is then the timeout.
        self.timeout = None
        self.timed_out = False

    def perform(self):
        job = self.job
        try:
            # Everything, from importing the task on, happens inside the try: whatever goes
            # wrong ends as the task's recorded failure, never as a claim left behind.
            self.task = restore_task(job)
            self.result = self._running_result(self.task)
            task_started.send(sender=SteadyQueueBackend, task_result=self.result)
            args, kwargs = deserialize(job.arguments.get("args", []), job.arguments.get("kwargs", {}))
            if self.task.takes_context:
                args = (TaskContext(task_result=self.result), *args)
            return_value = self._as_json(self._call(args, kwargs), job.task_path)
        except BaseException as error:
            # BaseException: a task calling sys.exit() fails like any other; the worker goes on.
            if not self.timed_out:
                self.record_failure(error)
        else:
            if self.timed_out:
                logger.info("Job %s returned after its timeout: its outcome is not recorded", job.pk)
            elif self.finisher is None:
                self.record_success(return_value, self.result)
            else:
                self.finisher.submit(self, Success(job, self.started_at, timezone.now(), return_value), self.result)

    def _call(self, args, kwargs):
        task = self.task
        timeout = seconds(task.timeout, "timeout") or seconds(get_config().timeout, "timeout")
        if timeout is None:
            return task.call(*args, **kwargs)
        if inspect.iscoroutinefunction(task.func):
            # An async task is cancelled in its event loop at the deadline.
            async def within_timeout():
                try:
                    return await asyncio.wait_for(task.func(*args, **kwargs), timeout)
                except TimeoutError:
                    raise TaskTimeout(task.module_path, timeout) from None

            return async_to_sync(within_timeout)()
        if self.watchdog is None:
            logger.warning("%s has a timeout but runs without a watchdog here: not enforced", task.module_path)
            return task.call(*args, **kwargs)
        self.timeout = timeout
        self.watchdog.watch(self, timeout)
        try:
            return task.call(*args, **kwargs)
        finally:
            self.timed_out = not self.watchdog.unwatch(self)

    def time_out(self):
        """Called by the watchdog at the deadline, in its thread: record the timeout for the stuck thread."""
        error = TaskTimeout(self.task.module_path, self.timeout)
        frame = sys._current_frames().get(self.thread_id)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        record = error_record(error)
        record["traceback"] = _printable(f"Where the task was at its deadline:\n{stack}{record['traceback']}")
        self.record_failure(error, record)

    def record_failure(self, error, record=None):
        """Record a failed attempt: the next one scheduled if the task may retry, else the task fails."""
        record = record or error_record(error)
        retry_at = None
        if self.task is not None and self.result is not None:
            try:
                delay = retry_delay(self.task, error, self.result, self.job.max_attempts)
            except BackoffError as backoff_error:
                record, delay = error_record(backoff_error), None
            # A task asked to stop while it ran (cancel()) is not given another attempt.
            if delay is not None and not cancel_requested(self.result):
                retry_at = timezone.now() + timedelta(seconds=delay)
        if not self._record(fail, record, retry_at=retry_at) or self.result is None:
            # No task_finished (the claim was lost, or no result could be built): say it here.
            logger.error("Task %s (job %s) failed", self.job.task_path, self.job.pk, exc_info=error)
            return
        self.result.errors.append(
            TaskError(exception_class_path=record["exception_class_path"], traceback=record["traceback"])
        )
        if retry_at is not None:
            # Not finished: task_finished is sent once, when the task ends for good.
            logger.warning(
                "Task id=%s path=%s attempt %d of %d failed, next attempt at %s:\n%s",
                self.result.id, self.job.task_path, self.result.attempts, self.job.max_attempts,
                retry_at.isoformat(timespec="seconds"), record["traceback"],
            )
            return
        object.__setattr__(self.result, "status", TaskResultStatus.FAILED)
        object.__setattr__(self.result, "finished_at", timezone.now())
        # Sent inside the except block (when the task raised), so that Django's own receiver logs
        # the failure with its traceback: the one log line of a failure, not repeated here.
        task_finished.send(sender=SteadyQueueBackend, task_result=self.result)

    def record_success(self, return_value, result):
        """Record this success on its own (the finisher records many at once)."""
        if self._record(finish, return_value, preserve=self.preserve):
            announce_success(result, timezone.now(), return_value)

    def _running_result(self, task):
        result = build_result(task, self.job, status=TaskResultStatus.RUNNING)
        object.__setattr__(result, "started_at", self.job.started_at or self.started_at)
        object.__setattr__(result, "last_attempted_at", self.started_at)
        result.worker_ids.append(self.worker_name)
        return result

    @staticmethod
    def _as_json(value, task_path):
        if value is None:
            return None  # what most tasks return: nothing to check
        try:
            value = normalize_json(value)
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"The return value of {task_path} cannot be stored as JSON: {error}") from error
        if "\\u0000" in text:
            raise TypeError(f"The return value of {task_path} contains a NUL character, which cannot be stored.")
        return value

    def _record(self, outcome, *args, refused_before=False, **kwargs):
        """Record the outcome; False if the claim is no longer this process's.

        A lost connection is waited out for as long as it lasts: giving up would leave a finished
        task claimed, to be run again or failed later. An outcome the database refuses to store is
        recorded as a failure that says so.
        """

        def record():
            return outcome(self.job, self.process_id, self.worker_name, self.started_at, *args, **kwargs)

        try:
            recorded = UNTIL_RECORDED.run(record, f"record the outcome of job {self.job.pk}")
        except DatabaseError as error:
            close_thread_connections()
            if refused_before:
                logger.error("Cannot record the failure of job %s: %s", self.job.pk, error)
                return False
            logger.error("The database refused the outcome of job %s: %s", self.job.pk, error)
            return self._record(fail, error_record(error), refused_before=True)
        if not recorded:
            warn_claim_lost(self.job.pk)
        return recorded


def warn_claim_lost(job_id):
    logger.warning(
        "Job %s ended after its claim was taken away (its process was declared dead); the outcome was not recorded",
        job_id,
    )


def announce_success(result, finished_at, return_value):
    """The outcome is recorded: the result says so, and Django's task_finished goes out."""
    object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    object.__setattr__(result, "finished_at", finished_at)
    object.__setattr__(result, "_return_value", return_value)
    task_finished.send(sender=SteadyQueueBackend, task_result=result)
