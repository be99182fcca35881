"""A fixed pool of daemon threads, with a line of claimed jobs waiting their turn.

``capacity`` says how many more jobs the worker may claim: one per idle thread, plus room in the
line. Jobs in line have not started (no start marker): a graceful stop takes them back out with
``take_waiting()``, and a crash puts them back in their queue, so a line costs nothing but the
wait of the jobs in it, which another worker might have started sooner.

The line's length is ``prefetch`` when it is a number. With ``"auto"`` it follows the tasks' pace:
as many jobs as the threads start within ``AUTO_HORIZON`` at the mean run time of recent tasks, at
most ``AUTO_LINE_MAX``. Thousands of millisecond tasks a second then need few claims, while a
worker running slow tasks holds no more than it is about to start, leaving the rest to others.
"""

import logging
import queue
import threading
import time

logger = logging.getLogger("steady_queue.worker")

AUTO_HORIZON = 0.2  # seconds
AUTO_LINE_MAX = 200
# Weight of the latest run time in the running mean: the line follows a change of pace within
# a few dozen tasks.
PACE_WEIGHT = 0.05


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
        self._mean_run = None  # seconds, for prefetch="auto"; None until a task ran
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
    def line(self):
        """How many claimed jobs may wait for a thread."""
        if self.prefetch != "auto":
            return self.prefetch
        if self._mean_run is None:
            return self.size  # no pace known yet: a job in line per thread
        return min(AUTO_LINE_MAX, int(self.size * AUTO_HORIZON / max(self._mean_run, 1e-6)))

    @property
    def capacity(self):
        with self._lock:
            return self.size + self.line - self._outstanding

    @property
    def wants_more(self):
        """Whether to claim now: a thread is idle, or the line is down to half its length.

        Refilled before it runs dry, the line keeps the threads busy while the claim is made.
        """
        with self._lock:
            line = self.line
            return self._outstanding < self.size or (line and self._outstanding <= self.size + line // 2)

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
            pass
        # Outside the except block: Django's task_finished receiver logs sys.exc_info(), and the
        # hook may announce finished tasks.
        if self._before_waiting is not None:
            self._before_waiting()
        return self._jobs.get()

    def _work(self):
        while (job := self._next_job()) is not None:
            began = time.monotonic()
            try:
                self._perform(job)
            except BaseException:
                # Nothing may end a pool thread: the pool would go on counting it as idle.
                logger.exception("Unexpected error in a worker thread")
            took = time.monotonic() - began
            with self._lock:
                pace = self._mean_run
                self._mean_run = took if pace is None else pace + PACE_WEIGHT * (took - pace)
                abandoned = threading.get_ident() in self._abandoned
                if not abandoned:
                    self._outstanding -= 1
                refill = self._outstanding <= self.size + self.line // 2
                self._all_done.notify_all()
            if abandoned:
                return
            if refill:
                self._on_idle()
