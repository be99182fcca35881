"""Timeouts of synchronous tasks: a thread that watches the deadlines of the attempts running.

Python cannot interrupt a thread. When a synchronous task runs past its timeout, the watchdog
records the attempt as failed with TaskTimeout at the deadline (its claim goes, so a retry can be
scheduled and its concurrency slot handed on), writes its thread off, and asks the worker to retire:
the worker stops claiming, lets its other threads finish, and exits; the supervisor starts a new
one. Until the process exits, the runaway code goes on running, side effects included; if it
returns meanwhile, its outcome is not recorded.
"""

import logging
import threading
import time

logger = logging.getLogger("steady_queue.worker")

CHECK_EVERY = 0.05


class Watchdog:
    def __init__(self, on_timeout):
        self._on_timeout = on_timeout
        # attempt -> monotonic deadline. No lock: a single dict operation is atomic under the GIL,
        # and whoever pops an attempt (unwatch when the call ends, or the watchdog at its deadline)
        # owns its end. Succeeding tasks pay two dict operations for their timeout.
        self._deadlines = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-queue-watchdog", daemon=True)
        self._thread.start()

    def watch(self, attempt, seconds):
        self._deadlines[attempt] = time.monotonic() + seconds

    def unwatch(self, attempt):
        """The call returned or raised. False if the watchdog already timed it out."""
        return self._deadlines.pop(attempt, None) is not None

    def stop(self):
        self._stopped.set()

    def _run(self):
        while not self._stopped.wait(CHECK_EVERY):
            now = time.monotonic()
            for attempt, deadline in list(self._deadlines.items()):
                if deadline <= now and self._deadlines.pop(attempt, None) is not None:
                    try:
                        attempt.time_out()
                    except BaseException:
                        logger.exception("Could not record the timeout of job %s", attempt.job.pk)
                    self._on_timeout(attempt)
