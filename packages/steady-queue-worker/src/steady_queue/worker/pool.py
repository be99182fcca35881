"""A fixed pool of daemon threads, with room for a few claimed jobs waiting their turn.

``capacity`` says how many more jobs the worker may claim: one per idle thread, plus ``prefetch``
waiting in line. Jobs still in line have not started; a graceful stop takes them back out with
``take_waiting()`` so that they return to their queue untouched.
"""

import logging
import queue
import threading

logger = logging.getLogger("steady_queue.worker")


class Pool:
    def __init__(self, size, perform, on_idle, prefetch=0, before_waiting=None):
        self.size = size
        self.prefetch = prefetch
        self._perform = perform
        self._on_idle = on_idle
        # Called by a thread that found no job in line, before it waits for one.
        self._before_waiting = before_waiting
        self._jobs = queue.SimpleQueue()
        self._outstanding = 0  # running plus waiting in line
        self._lock = threading.Lock()
        self._all_done = threading.Condition(self._lock)
        self._abandoned = set()
        # Daemon threads: a process that gave up waiting for a task must still be able to exit.
        self._threads = [
            threading.Thread(target=self._work, name=f"steady-queue-pool-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def capacity(self):
        with self._lock:
            return self.size + self.prefetch - self._outstanding

    @property
    def wants_more(self):
        """Whether to claim now: a thread is idle, and the line (if any) is short enough to refill."""
        with self._lock:
            return self._outstanding < self.size or (self.prefetch and self._outstanding <= self.size)

    def submit(self, job):
        with self._lock:
            self._outstanding += 1
        self._jobs.put(job)

    def take_waiting(self):
        """Remove and return the jobs that no thread has started."""
        waiting = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)
                break
            waiting.append(job)
        with self._lock:
            self._outstanding -= len(waiting)
            self._all_done.notify_all()
        return waiting

    def abandon(self, thread_id):
        """Stop counting a thread whose task ran past its timeout: it can be waited for no longer.

        Python cannot stop a thread from outside, so the thread stays busy until the process exits;
        it takes no new job if its task ever returns.
        """
        with self._lock:
            self._abandoned.add(thread_id)
            self._outstanding -= 1
            self._all_done.notify_all()

    def wait_until_idle(self, timeout):
        """Wait for submitted jobs to end, at most ``timeout`` seconds; True if all did."""
        with self._all_done:
            return self._all_done.wait_for(lambda: self._outstanding == 0, timeout)

    def stop(self):
        for _ in self._threads:
            self._jobs.put(None)

    def _next_job(self):
        try:
            return self._jobs.get_nowait()
        except queue.Empty:
            if self._before_waiting is not None:
                self._before_waiting()
            return self._jobs.get()

    def _work(self):
        while (job := self._next_job()) is not None:
            try:
                self._perform(job)
            except BaseException:
                # Nothing may end a pool thread: the pool would go on counting it as idle.
                logger.exception("Unexpected error in a worker thread")
            with self._lock:
                abandoned = threading.get_ident() in self._abandoned
                if not abandoned:
                    self._outstanding -= 1
                refill = self._outstanding <= self.size
                self._all_done.notify_all()
            if abandoned:
                return
            if refill:
                self._on_idle()
