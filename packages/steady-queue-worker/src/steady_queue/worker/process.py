"""What every runtime process shares: registration, heartbeat, signals and interruptible sleep."""

import logging
import os
import signal
import socket
import threading
import time

from django.db import DatabaseError, connections

from steady_queue.conf import get_config
from steady_queue.models.process import register

logger = logging.getLogger("steady_queue.processes")


def process_name(kind):
    return f"{kind}-{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


def close_thread_connections():
    for connection in connections.all(initialized_only=True):
        connection.close()


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
        try:
            self.main_loop()
        finally:
            self.stop()
            self.shutdown()
            released = self._retry_database(self.process.deregister)
            logger.info(
                "Stopped %s %s%s", self.kind, self.name, f"; {released} unfinished task(s) back in their queue" if released else ""
            )
            close_thread_connections()
        return 0

    def main_loop(self):
        raise NotImplementedError

    def shutdown(self):
        """Finish up after the main loop ends (and before the row is removed)."""

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

    def _heartbeat_loop(self):
        interval = self.config.process_heartbeat_interval.total_seconds()
        next_beat = time.monotonic() + interval
        while not self.stopping.wait(min(1.0, interval)):
            if self.supervisor_pid and os.getppid() != self.supervisor_pid:
                logger.warning("%s %s lost its supervisor, stopping", self.kind, self.name)
                self.stop()
                break
            if time.monotonic() < next_beat:
                continue
            next_beat = time.monotonic() + interval
            try:
                alive = self.process.heartbeat()
            except DatabaseError as error:
                logger.warning("%s %s could not send its heartbeat: %s", self.kind, self.name, error)
                close_thread_connections()
                continue
            if not alive:
                logger.warning("%s %s was pruned as dead by a supervisor, stopping", self.kind, self.name)
                self.stop()
        close_thread_connections()

    def _retry_database(self, operation, attempts=30):
        """Run a database operation, reconnecting and waiting while the database is unreachable."""
        for attempt in range(1, attempts + 1):
            try:
                return operation()
            except DatabaseError as error:
                if attempt == attempts:
                    raise
                logger.warning("%s %s: database error (%s), retrying", self.kind, self.name, error)
                close_thread_connections()
                time.sleep(min(5.0, 0.2 * attempt))
