"""What every runtime process shares: registration, heartbeat, signals and interruptible sleep."""

import logging
import os
import signal
import socket
import threading
import time

from django.db import DatabaseError

from steady_queue.conf import get_config
from steady_queue.models.process import register
from steady_queue.retrying import DATABASE_OUTAGE, close_thread_connections

logger = logging.getLogger("steady_queue.processes")

# The exit status of a process that stopped with tasks still running past the shutdown timeout:
# its supervisor puts those tasks back in their queue once the process is gone, so that no task
# can be claimed again while this process still runs it.
EXIT_RELEASE_CLAIMS = 75


def process_name(kind):
    return f"{kind}-{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class RuntimeProcess:
    """A worker, dispatcher or scheduler, running in a child of the supervisor.

    TERM or INT asks it to stop gracefully, QUIT ends it at once. It also stops gracefully when its
    supervisor goes away or when its row is pruned (another supervisor decided it was dead).
    """

    kind = "process"

    def __init__(self, *, supervisor_id=None, supervisor_pid=None):
        self.config = get_config()
        self.supervisor_id = supervisor_id
        self.supervisor_pid = supervisor_pid
        self.name = process_name(self.kind)
        self.process = None
        self.stopping = threading.Event()
        self._wakeup = threading.Event()
        self._finished = threading.Event()

    @property
    def metadata(self):
        return {}

    def run(self):
        """Run until asked to stop; return the exit status."""
        self._install_signal_handlers()
        self.process = self._retry_database(
            lambda: register(
                self.kind, self.name, os.getpid(), socket.gethostname(), self.supervisor_id, self.metadata
            )
        )
        logger.info("Started %s %s (pid %s)", self.kind, self.name, os.getpid())
        heartbeat = threading.Thread(target=self._heartbeat_loop, name=f"{self.kind}-heartbeat", daemon=True)
        heartbeat.start()
        status = 0
        try:
            self.main_loop()
        finally:
            self.stop()
            all_done = self.shutdown()
            if not all_done and self._supervisor_alive():
                logger.info("Stopped %s %s; its supervisor puts its unfinished tasks back", self.kind, self.name)
                status = EXIT_RELEASE_CLAIMS
            else:
                released = self._retry_database(self.process.deregister)
                logger.info(
                    "Stopped %s %s%s",
                    self.kind,
                    self.name,
                    f"; {released} unfinished task(s) back in their queue" if released else "",
                )
            # Heartbeats go on until here, so a slow graceful stop is never mistaken for death.
            self._finished.set()
            close_thread_connections()
        return status

    def main_loop(self):
        raise NotImplementedError

    def shutdown(self):
        """Finish up after the main loop ends; return False if tasks are still running."""
        return True

    def stop(self):
        self.stopping.set()
        self.wake_up()

    def wake_up(self):
        self._wakeup.set()

    def sleep(self, seconds):
        """Sleep until the time is up, or until wake_up() or stop() is called."""
        self._wakeup.wait(seconds)
        self._wakeup.clear()

    def _install_signal_handlers(self):
        def graceful(signum, frame):
            logger.info("%s %s received %s, stopping", self.kind, self.name, signal.Signals(signum).name)
            self.stop()

        def immediate(signum, frame):
            # No cleanup: the supervisor (or, for a lost host, pruning) recovers its claims.
            os._exit(1)

        signal.signal(signal.SIGTERM, graceful)
        signal.signal(signal.SIGINT, graceful)
        signal.signal(signal.SIGQUIT, immediate)

    def _supervisor_alive(self):
        return bool(self.supervisor_pid) and os.getppid() == self.supervisor_pid

    def _heartbeat_loop(self):
        interval = self.config.process_heartbeat_interval.total_seconds()
        next_beat = time.monotonic() + interval
        while not self._finished.wait(min(1.0, interval)):
            if self.supervisor_pid and not self._supervisor_alive() and not self.stopping.is_set():
                logger.warning("%s %s lost its supervisor, stopping", self.kind, self.name)
                self.stop()
            if time.monotonic() < next_beat:
                continue
            try:
                alive = self.process.heartbeat()
            except DatabaseError as error:
                logger.warning("%s %s could not send its heartbeat: %s", self.kind, self.name, error)
                close_thread_connections()
                next_beat = time.monotonic() + 1.0  # try again soon, not a whole interval later
                continue
            next_beat = time.monotonic() + interval
            if not alive and not self.stopping.is_set():
                logger.warning("%s %s was pruned as dead by a supervisor, stopping", self.kind, self.name)
                self.stop()
        close_thread_connections()

    def _retry_database(self, operation):
        """Run a database operation, reconnecting and waiting while the database is unreachable."""
        return DATABASE_OUTAGE.run(operation, f"reach the database from {self.kind} {self.name}")
