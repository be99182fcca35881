"""The worker process: claims ready jobs for its idle threads and runs them."""

import logging
import time

from django.db import DatabaseError, connections

from steady_queue.db import queue_database
from steady_queue.models import ClaimedExecution
from steady_queue.models.claimed_execution import release_claims
from steady_queue.models.ready_execution import claim, paused_queue_names
from steady_queue.models.tables import dialect

from .attempt import Attempt
from .finishing import Finisher
from .notify import CHANNEL_READY, watcher_for
from .poller import Poller
from .pool import Pool
from .watchdog import Watchdog

logger = logging.getLogger("steady_queue.worker")


class Worker(Poller):
    kind = "worker"

    def __init__(self, worker_config, **kwargs):
        super().__init__(**kwargs)
        self.queues = worker_config.queues
        self.threads = worker_config.threads
        self.prefetch = worker_config.prefetch
        self.polling_interval = worker_config.polling_interval.total_seconds()
        self.pool = None
        self._paused, self._paused_read_at = [], float("-inf")
        self._claims_in_doubt = False
        self._queues_were_empty = True
        # Ids of the jobs claimed and handed to the pool, until their thread is done with them.
        self._held = set()

    @property
    def metadata(self):
        return {
            "queues": list(self.queues),
            "threads": self.threads,
            "prefetch": self.prefetch,
            "polling_interval": self.polling_interval,
        }

    def prepare(self):
        self.finisher = Finisher(self.process.pk, self.name, self.config.preserve_finished_jobs)
        self.pool = Pool(
            self.threads, self._perform, on_idle=self.wake_up, prefetch=self.prefetch,
            before_waiting=self.finisher.wake,
        )
        self.watcher = watcher_for(queue_database(), CHANNEL_READY, self.wake_up, self.stopping)
        self.watchdog = Watchdog(self._retire)

    def poll(self):
        if self._claims_in_doubt:
            self._release_orphaned_claims()
        if not self.pool.wants_more:
            return 60  # woken by the pool the moment a thread frees up
        capacity = self.pool.capacity
        try:
            jobs = claim(self.queues, capacity, self.process.pk, self._paused_queues())
        except DatabaseError:
            # A claim whose connection broke during its COMMIT may have committed all the same
            # (MariaDB commits and reports only the lost connection): its jobs would be claimed
            # by this live process and run by none of its threads, until it stopped.
            self._claims_in_doubt = True
            raise
        for job in jobs:
            self._held.add(job.pk)
            self.pool.submit(job)
        if jobs and self._queues_were_empty:
            # Work after none: the claim's plans may date from empty tables (see refresh_plans).
            dialect().refresh_plans()
        self._queues_were_empty = not jobs
        if len(jobs) == capacity:
            return 0  # there may be more: claim again as soon as there is room
        # The queues are empty: wait for a notification or the next poll.
        return self.watcher.polling_interval(self.polling_interval) if self.watcher else self.polling_interval

    def _release_orphaned_claims(self):
        """Put back in their queue the claims of this process that none of its threads holds."""
        # Only this thread adds to _held, and a job leaves it once its thread is done with it (after
        # its start marker, or its claim given back): an unstarted claim in this process's name
        # that is not held can only come from a claim whose result never came back.
        orphaned = ClaimedExecution.objects.filter(process_id=self.process.pk, started_at__isnull=True).exclude(
            job_id__in=self._held.copy()
        )
        released = release_claims(orphaned)
        self._claims_in_doubt = False
        if released:
            logger.warning("Worker %s: %d task(s) claimed by a claim cut off in its commit put back in their queue",
                           self.name, released)

    def _paused_queues(self):
        # Read at most once per polling interval: a pause applies within one interval. (Read
        # before every claim, the list cost a busy worker a tenth of its time: it claims every
        # few milliseconds, each claim after a short sleep.)
        now = time.monotonic()
        if now - self._paused_read_at >= self.polling_interval:
            self._paused, self._paused_read_at = paused_queue_names(), now
        return self._paused

    def shutdown(self):
        if self.pool is None:
            return True
        # Jobs waiting in line have not started: they go back to their queue untouched.
        waiting = self.pool.take_waiting()
        if waiting:
            self._retry_database(
                lambda: release_claims(
                    ClaimedExecution.objects.filter(process_id=self.process.pk, job_id__in=[j.pk for j in waiting])
                )
            )
        timeout = self.config.shutdown_timeout.total_seconds()
        all_done = self.pool.wait_until_idle(timeout)
        if not all_done:
            logger.warning(
                "Worker %s: tasks still running after the %.0f s shutdown timeout go back to their queue",
                self.name,
                timeout,
            )
        self.watchdog.stop()
        # Outcomes of tasks that returned must be recorded before any claim is given back.
        self.finisher.stop()
        self.pool.stop()
        return all_done

    def _retire(self, attempt):
        """A task ran past its timeout and holds a thread for good: hand over to a new worker process."""
        self.pool.abandon(attempt.thread_id)
        if not self.stopping.is_set():
            logger.warning(
                "Worker %s: job %s ran past its timeout; the worker stops claiming, lets its other tasks "
                "finish and exits, and its supervisor starts a new one",
                self.name, attempt.job.pk,
            )
            self.stop()

    def _perform(self, job):
        try:
            if not self.finisher.start(job.pk):
                self._give_back(job)
                return
            Attempt(
                job,
                process_id=self.process.pk,
                worker_name=self.name,
                preserve_finished_jobs=self.config.preserve_finished_jobs,
                finisher=self.finisher,
                watchdog=self.watchdog,
            ).perform()
        finally:
            self._held.discard(job.pk)
            # A task may leave its connection broken; the next one starts on a fresh one.
            for connection in connections.all(initialized_only=True):
                if connection.errors_occurred and not connection.is_usable():
                    connection.close()

    def _give_back(self, job):
        """The start marker was not recorded: the task does not run, and its claim goes back if still ours."""
        released = self._retry_database(
            lambda: release_claims(
                ClaimedExecution.objects.filter(process_id=self.process.pk, job_id=job.pk, started_at__isnull=True)
            )
        )
        if released:
            logger.warning("Worker %s: job %s could not be marked started; back in its queue", self.name, job.pk)
        else:
            logger.warning("Worker %s: job %s was taken from this worker before it started; not run", self.name, job.pk)
