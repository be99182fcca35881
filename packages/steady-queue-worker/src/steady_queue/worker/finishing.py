"""Group commit: outcomes and start markers are recorded many to a transaction.

Pool threads hand the outcome of a task that returned to the finisher and go on to their next
task. Before calling it, a thread has the task's start marker recorded (``start()``) and waits for
it: the next round carries it together with every outcome handed over since, among them the
outcome the same thread just handed over. So a task costs one statement, shared by all the threads
that ended a task meanwhile. A thread with no next task has what it handed over recorded
(``wake()``) before it waits for one, so an outcome is never held back.

A round is recorded by the first thread that needs one while none is under way: it leads the
round on its own database connection, and the others wait for it. Only when no pool thread can
(a round is under way, or the thread's connection is inside a transaction its task left open)
does the finisher's own thread record the next round. A thread that leads saves the two hand-overs
between threads that each round would otherwise cost, which is most of a round for short tasks.

The price: a task that returned but whose outcome was not yet committed when the process died
is treated like any other started task of a dead process (failed with ProcessExitError or
ProcessPrunedError). A claim whose start marker was not committed never ran: it goes back to
its queue.
"""

import logging
import threading
import time

from django.db import connections

from steady_queue.db import queue_database
from steady_queue.models.claimed_execution import finish_and_start
from steady_queue.retrying import UNTIL_RECORDED, close_thread_connections

from .attempt import announce_success, warn_claim_lost

logger = logging.getLogger("steady_queue.worker")

MAX_BATCH = 500
# How long the finisher may hold a transaction back for threads still running short tasks (a
# recent mean under this): their start markers then share it, instead of each waiting for the
# next one. Threads on longer tasks are not waited for.
LINGER_MAX = 0.002  # seconds
RUN_WEIGHT = 0.05  # of the latest task in the running mean of task times


class _Start:
    """A thread waiting for a job's start marker."""

    __slots__ = ("job_id", "recorded", "started")

    def __init__(self, job_id):
        self.job_id = job_id
        # Each waiting thread is woken alone, when its own marker is recorded: the finisher releases
        # this lock, held from the start (cheaper to hand over than an Event).
        self.recorded = threading.Lock()
        self.recorded.acquire()
        self.started = False


class Finisher:
    def __init__(self, process_id, worker_name, preserve_finished_jobs):
        self.process_id = process_id
        self.worker_name = worker_name
        self.preserve = preserve_finished_jobs
        self._pending = []
        self._starts = []
        self._busy = False
        self._stopping = False
        lock = threading.Lock()
        # Flushes and a leader lingering for more start markers wait on _changed; the finisher's own
        # thread waits on _has_work, woken only when a round is left to it: waking it after every
        # round (to find nothing to do) cost a thread switch per round, a sixth of a one-thread
        # worker's CPU.
        self._changed = threading.Condition(lock)
        self._has_work = threading.Condition(lock)
        # Threads running a task: each will soon hand over its outcome and ask for its next start.
        self._running = 0
        self._mean_run = LINGER_MAX  # seconds
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="steady-queue-finisher", daemon=True)
        self._thread.start()

    def submit(self, attempt, success, result):
        """Hand over a success. It waits for the thread's next start() to go out with it, or for wake()."""
        with self._changed:
            self._pending.append((attempt, success, result))

    def wake(self):
        """Record what was handed over now: the thread that handed it over has no next task yet."""
        self._next_round()

    def start(self, job_id):
        """Record the start marker of a claimed job and wait for it.

        True when it is recorded; False when the claim is no longer this process's (its process
        was declared dead and the claim dealt with): the task must not run.
        """
        request = _Start(job_id)
        self._next_round(request)
        request.recorded.acquire()
        if request.started:
            self._local.began = time.monotonic()
        return request.started

    def _next_round(self, request=None):
        """A pool thread done with its task (if it had one) wants its outcome, and ``request``, recorded.

        It leads the round itself if it may; otherwise the round under way or the finisher's thread
        takes them.
        """
        with self._changed:
            self._task_ended()
            if request is not None:
                self._starts.append(request)
            lead = (request is not None or self._pending) and self._may_lead()
            if lead:
                batch, starts = self._begin_round()
            else:
                # Each wake is a thread switch (~15 µs here): the leader lingering for running threads
                # is woken by the last of them only, and the finisher's thread only for a round left
                # to it, not during one under way.
                if not self._running:
                    self._changed.notify_all()
                self._wake_finisher()
        if lead:
            self._round(batch, starts)

    def _task_ended(self):
        """Called, with the condition held, by a thread done with its task (if it had one)."""
        began = getattr(self._local, "began", None)
        if began is None:
            return
        self._local.began = None
        self._running -= 1
        self._mean_run += RUN_WEIGHT * (time.monotonic() - began - self._mean_run)

    def _left_to_finisher(self):
        """Whether the finisher's thread has a round to record, or is to stop (the condition held)."""
        return not self._busy and (self._pending or self._starts or self._stopping)

    def _wake_finisher(self):
        """Wake the finisher's thread if a round is left to it (the condition held)."""
        if self._left_to_finisher():
            self._has_work.notify()

    def flush(self, timeout=None):
        """Wait until everything submitted so far is recorded; True if it was in time."""
        with self._changed:
            self._wake_finisher()
            return self._changed.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self, timeout=None):
        recorded = self.flush(timeout)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            self._wake_finisher()
        self._thread.join(timeout)
        return recorded

    def _may_lead(self):
        """Whether the calling pool thread may record the next round (the condition held)."""
        if self._busy or self._stopping:
            return False
        # Its task may have left the thread's connection inside a transaction (set_autocommit(False)
        # without a commit): the round must not join it. The finisher's thread records it instead.
        connection = connections[queue_database()]
        return connection.get_autocommit() if connection.connection is not None else True

    def _begin_round(self):
        """Take what the next round records (the condition held, and no round under way)."""
        self._busy = True
        if self._running and self._mean_run < LINGER_MAX and not self._stopping:
            # Threads amid short tasks: give them a moment to join this round.
            self._changed.wait_for(lambda: not self._running or self._stopping, LINGER_MAX)
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        starts, self._starts = self._starts, []
        return batch, starts

    def _round(self, batch, starts):
        """Record a round, then wake the threads waiting for their start markers."""
        started = set()
        try:
            started = self._record(batch, [s.job_id for s in starts])
        except BaseException:
            logger.exception("Unexpected error recording finished and started tasks")
        finally:
            with self._changed:
                for request in starts:
                    request.started = request.job_id in started
                # Running from here on, not from when their threads wake: the next round must
                # know to wait for them (they wake after this round's thread has moved on).
                self._running += sum(1 for request in starts if request.started)
                self._busy = False
                self._changed.notify_all()
                self._wake_finisher()
            for request in starts:
                request.recorded.release()

    def _run(self):
        """The finisher's thread: the rounds no pool thread leads."""
        while True:
            with self._has_work:
                self._has_work.wait_for(self._left_to_finisher)
                if not self._pending and not self._starts:
                    break
                batch, starts = self._begin_round()
            self._round(batch, starts)
        close_thread_connections()

    def _record(self, batch, start_ids):
        """Record the batch's outcomes and the start markers; return the job ids started."""

        def record():
            successes = [success for _, success, _ in batch]
            return finish_and_start(successes, start_ids, self.process_id, self.worker_name, preserve=self.preserve)

        what = f"record {len(batch)} finished and {len(start_ids)} started task(s)"
        try:
            recorded, started = UNTIL_RECORDED.run(record, what)
        except Exception as error:
            # One outcome the database refuses must not cost the others: record them one by one.
            # The starts are not retried: their threads put the claims back instead of running them.
            logger.warning("Recording %d finished task(s) together failed (%s); one by one", len(batch), error)
            close_thread_connections()
            for attempt, success, result in batch:
                attempt.record_success(success.return_value, result)
            return set()
        for _attempt, success, result in batch:
            if success.job_id in recorded:
                announce_success(result, success.finished_at, success.return_value)
            else:
                warn_claim_lost(success.job_id)
        return started
