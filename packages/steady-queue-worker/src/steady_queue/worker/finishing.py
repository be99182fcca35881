"""Group commit: successful outcomes are recorded many to a transaction.

A pool thread whose task returned adds the outcome to a shared list. If no other thread is
recording at that moment, it records everything pending (looping while more arrives), then goes
back to work; otherwise it goes straight back. Under load one transaction records dozens of
tasks; when idle, an outcome is recorded at once.

The price: a task that returned but whose outcome was not yet committed when the process died
is treated like any task of a dead process (failed with ProcessExitError or ProcessPrunedError).
"""

import logging
import threading
import time

from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished

from steady_queue.backend import SteadyQueueBackend
from steady_queue.models.claimed_execution import finish_many

from .execution import MAX_BACKOFF, TRANSIENT_ERRORS
from .process import close_thread_connections

logger = logging.getLogger("steady_queue.worker")

MAX_BATCH = 500


class Finisher:
    def __init__(self, process_id, worker_name, preserve_finished_jobs):
        self.process_id = process_id
        self.worker_name = worker_name
        self.preserve = preserve_finished_jobs
        self._pending = []
        self._lock = threading.Lock()
        self._recording = False

    def submit(self, execution, success, result):
        with self._lock:
            self._pending.append((execution, success, result))
            if self._recording:
                return
            self._recording = True
        self._record_pending()

    def _record_pending(self):
        while True:
            with self._lock:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if not batch:
                    self._recording = False
                    return
            self._record(batch)

    def _record(self, batch):
        attempt = 0
        while True:
            attempt += 1
            try:
                recorded = finish_many(
                    [success for _, success, _ in batch], self.process_id, self.worker_name, preserve=self.preserve
                )
                break
            except TRANSIENT_ERRORS as error:
                if attempt == 1 or attempt % 10 == 0:
                    logger.warning("Cannot record %d finished task(s) yet (%s); retrying", len(batch), error)
                close_thread_connections()
                time.sleep(min(MAX_BACKOFF, 0.1 * 2**attempt))
            except Exception as error:
                # One outcome the database refuses must not cost the others: record them one by one.
                logger.warning("Recording %d finished task(s) together failed (%s); one by one", len(batch), error)
                close_thread_connections()
                for execution, success, result in batch:
                    execution.record_success(success.return_value, result)
                return
        for _execution, success, result in batch:
            if success.job_id not in recorded:
                logger.warning(
                    "Job %s ended after its claim was taken away (its process was declared dead); "
                    "the outcome was not recorded",
                    success.job_id,
                )
                continue
            object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
            object.__setattr__(result, "finished_at", success.finished_at)
            object.__setattr__(result, "_return_value", success.return_value)
            task_finished.send(sender=SteadyQueueBackend, task_result=result)
