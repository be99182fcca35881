"""A fixed pool of daemon threads that says how many are idle and calls back when one frees up."""

import logging
import queue
import threading

logger = logging.getLogger("steady_queue.worker")


class Pool:
    def __init__(self, size, perform, on_idle):
        self.size = size
        self._perform = perform
        self._on_idle = on_idle
        self._jobs = queue.SimpleQueue()
        self._busy = 0
        self._lock = threading.Lock()
        self._all_idle = threading.Condition(self._lock)
        # Daemon threads: a process that gave up waiting for a task must still be able to exit.
        self._threads = [
            threading.Thread(target=self._work, name=f"steady-queue-pool-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def idle(self):
        with self._lock:
            return self.size - self._busy

    def submit(self, job):
        with self._lock:
            self._busy += 1
        self._jobs.put(job)

    def wait_until_idle(self, timeout):
        """Wait for running jobs to end, at most ``timeout`` seconds; True if all did."""
        with self._all_idle:
            return self._all_idle.wait_for(lambda: self._busy == 0, timeout)

    def stop(self):
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self):
        while (job := self._jobs.get()) is not None:
            try:
                self._perform(job)
            except BaseException:
                # Nothing may end a pool thread: the pool would go on counting it as idle.
                logger.exception("Unexpected error in a worker thread")
            finally:
                with self._lock:
                    was_full = self._busy == self.size
                    self._busy -= 1
                    self._all_idle.notify_all()
                if was_full:
                    self._on_idle()
