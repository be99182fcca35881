"""The dispatcher process: makes scheduled jobs ready when they are due, and clears old ones."""

import logging
import time

from django.utils import timezone

from steady_queue.db import queue_database
from steady_queue.models.admission import maintain_concurrency
from steady_queue.models.job import clear_finished_batch
from steady_queue.models.scheduled_execution import dispatch_due, next_scheduled_at
from steady_queue.models.unique_key import purge as purge_unique_keys

from .notify import CHANNEL_SCHEDULED, watcher_for
from .poller import Poller

logger = logging.getLogger("steady_queue.dispatcher")

CLEAR_FINISHED_EVERY = 300.0
# Clearing a backlog of finished jobs pauses after each batch for this many times the batch's
# own time: it takes at most a quarter of the database's attention from the workers draining.
CLEARING_PAUSE = 3


class Dispatcher(Poller):
    kind = "dispatcher"

    def __init__(self, dispatcher_config, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = dispatcher_config.batch_size
        self.polling_interval = dispatcher_config.polling_interval.total_seconds()
        self.concurrency_maintenance = dispatcher_config.concurrency_maintenance
        self.maintenance_interval = dispatcher_config.concurrency_maintenance_interval.total_seconds()
        self._next_clearing = self._next_maintenance = self._next_key_purge = time.monotonic()
        self._clearing = None  # (cut-off, cleared so far) while a round of clearing is under way

    @property
    def metadata(self):
        return {
            "batch_size": self.batch_size,
            "polling_interval": self.polling_interval,
            "concurrency_maintenance_interval": self.maintenance_interval if self.concurrency_maintenance else None,
        }

    def prepare(self):
        # On SQLite the change counter moves with every commit: look at most every 50 ms, and
        # only read (the next due time) before taking the write lock.
        self.watcher = watcher_for(
            queue_database(), CHANNEL_SCHEDULED, self.wake_up, self.stopping, sqlite_check_every=0.05
        )

    def poll(self):
        next_due = next_scheduled_at()
        moved = 0
        if next_due is not None and next_due <= timezone.now():
            moved = dispatch_due(self.batch_size)
        self._maintain_concurrency()
        self._clear_finished_jobs()
        self._purge_unique_keys()
        if moved >= self.batch_size:
            return 0  # a full batch means more may be due: go again at once
        if moved:
            logger.debug("Dispatched %d scheduled task(s)", moved)
            next_due = next_scheduled_at()
        wait = self.watcher.polling_interval(self.polling_interval) if self.watcher else self.polling_interval
        if next_due is not None:
            wait = min(wait, max(0.0, (next_due - timezone.now()).total_seconds()))
        return min(wait, self._seconds_to_upkeep())

    def _seconds_to_upkeep(self):
        upcoming = [self._next_clearing]
        if self.concurrency_maintenance:
            upcoming.append(self._next_maintenance)
        return max(0.0, min(upcoming) - time.monotonic())

    def _maintain_concurrency(self):
        if not self.concurrency_maintenance or time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + self.maintenance_interval
        expired, released = maintain_concurrency(self.batch_size)
        if expired or released:
            logger.info(
                "Concurrency maintenance: %d expired key(s) reset, %d blocked task(s) released", expired, released
            )

    def _purge_unique_keys(self):
        # Keys of @unique tasks whose window has passed, or whose task ended without releasing them.
        if time.monotonic() < self._next_key_purge:
            return
        self._next_key_purge = time.monotonic() + CLEAR_FINISHED_EVERY
        purged = purge_unique_keys(timezone.now(), batch_size=self.batch_size)
        if purged:
            logger.info("Released %d unique key(s) whose tasks no longer hold them", purged)

    def _clear_finished_jobs(self):
        # Finished jobs are cleared by the runtime itself, not by a cron job the user must remember:
        # a batch per poll, paced, so that scheduled tasks are still dispatched on time meanwhile.
        if not self.config.preserve_finished_jobs or time.monotonic() < self._next_clearing:
            return
        if self._clearing is None:
            self._clearing = (timezone.now() - self.config.clear_finished_jobs_after, 0)
        cut_off, cleared = self._clearing
        began = time.monotonic()
        deleted = clear_finished_batch(cut_off, batch_size=self.batch_size)
        cleared += deleted
        if deleted == self.batch_size:
            self._clearing = (cut_off, cleared)
            self._next_clearing = time.monotonic() + CLEARING_PAUSE * (time.monotonic() - began)
            return
        self._clearing = None
        self._next_clearing = time.monotonic() + CLEAR_FINISHED_EVERY
        if cleared:
            logger.info("Cleared %d finished task(s) older than %s", cleared, self.config.clear_finished_jobs_after)
