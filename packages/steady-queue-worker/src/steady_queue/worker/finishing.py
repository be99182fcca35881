"""Group commit: successful outcomes are recorded many to a transaction, by one thread.

Pool threads hand the outcome of a task that returned to the finisher and go back to work. The
finisher's thread records everything handed to it since its last transaction in one transaction,
then sends Django's task_finished for each. Under load one transaction records dozens of tasks;
when idle, an outcome is recorded at once. One thread also means one database connection.

The price: a task that returned but whose outcome was not yet committed when the process died
is treated like any other task of a dead process (failed with ProcessExitError or
ProcessPrunedError).
"""

import logging
import threading

from steady_queue.models.claimed_execution import finish_many
from steady_queue.retrying import UNTIL_RECORDED, close_thread_connections

from .attempt import announce_success, warn_claim_lost

logger = logging.getLogger("steady_queue.worker")

MAX_BATCH = 500


class Finisher:
    def __init__(self, process_id, worker_name, preserve_finished_jobs):
        self.process_id = process_id
        self.worker_name = worker_name
        self.preserve = preserve_finished_jobs
        self._pending = []
        self._busy = False
        self._stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="steady-queue-finisher", daemon=True)
        self._thread.start()

    def submit(self, attempt, success, result):
        with self._changed:
            self._pending.append((attempt, success, result))
            self._changed.notify_all()

    def flush(self, timeout=None):
        """Wait until everything submitted so far is recorded; True if it was in time."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self, timeout=None):
        recorded = self.flush(timeout)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout)
        return recorded

    def _run(self):
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:
                    break
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                self._busy = True
            try:
                self._record(batch)
            except BaseException:
                logger.exception("Unexpected error recording finished tasks")
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
        close_thread_connections()

    def _record(self, batch):
        def record():
            successes = [success for _, success, _ in batch]
            return finish_many(successes, self.process_id, self.worker_name, preserve=self.preserve)

        try:
            recorded = UNTIL_RECORDED.run(record, f"record {len(batch)} finished task(s)")
        except Exception as error:
            # One outcome the database refuses must not cost the others: record them one by one.
            logger.warning("Recording %d finished task(s) together failed (%s); one by one", len(batch), error)
            close_thread_connections()
            for attempt, success, result in batch:
                attempt.record_success(success.return_value, result)
            return
        for _attempt, success, result in batch:
            if success.job_id in recorded:
                announce_success(result, success.finished_at, success.return_value)
            else:
                warn_claim_lost(success.job_id)
