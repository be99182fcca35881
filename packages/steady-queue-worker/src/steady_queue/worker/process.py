"""A runtime process, built from its parts: a registered row, interruptible sleep, signals, heartbeats.

Workers, dispatchers and schedulers are runtime processes forked by a supervisor; the supervisor
is built from the same Registrable and Interruptible parts (see supervisor.py).
"""

import logging
import os
import signal
import threading
import time

from django.db.backends.signals import connection_created

from steady_queue.conf import get_config
from steady_queue.db import queue_database
from steady_queue.retrying import DATABASE_OUTAGE, close_thread_connections
from steady_queue.sql import dialect_class

from .interruptible import Interruptible
from .registrable import Registrable

logger = logging.getLogger("steady_queue.processes")

# The exit status of a process that stopped with tasks still running past the shutdown timeout:
# its supervisor puts those tasks back in their queue once the process is gone, so that no task
# can be claimed again while this process still runs it.
EXIT_RELEASE_CLAIMS = 75


def _prepare_connection(sender, connection, **kwargs):
    if connection.alias == queue_database():
        dialect_class(connection).prepare_runtime_connection(connection)


def prepare_runtime_connections():
    """Have each queue database connection this process opens from now on tuned for the runtime.

    See Dialect.prepare_runtime_connection. Called before the supervisor forks (its children
    inherit it) and by each runtime process (one run on its own, as tests do).
    """
    connection_created.connect(_prepare_connection, dispatch_uid="steady_queue.runtime_connection")


class RuntimeProcess(Registrable, Interruptible):
    """A worker, dispatcher or scheduler, running in a child of the supervisor.

    TERM or INT asks it to stop gracefully, QUIT ends it at once. It also stops gracefully when its
    supervisor goes away or when its row is pruned (another supervisor decided it was dead).
    """

    def __init__(self, *, supervisor_id=None, supervisor_pid=None):
        Registrable.__init__(self)
        Interruptible.__init__(self)
        self.config = get_config()
        self.supervisor_id = supervisor_id
        self.supervisor_pid = supervisor_pid
        # An Event, not a flag: the notification watchers wait on it too.
        self.stopping = threading.Event()
        self._finished = threading.Event()

    def run(self):
        """Run until asked to stop; return the exit status."""
        self._install_signal_handlers()
        prepare_runtime_connections()
        self._retry_database(lambda: self.register(self.supervisor_id))
        logger.info("Started %s %s (pid %s)", self.kind, self.name, os.getpid())
        threading.Thread(target=self._heartbeat_loop, name=f"{self.kind}-heartbeat", daemon=True).start()
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
                released = self._retry_database(self.deregister)
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

    def on_pruned(self):
        if not self.stopping.is_set():
            logger.warning("%s %s was pruned as dead by a supervisor, stopping", self.kind, self.name)
            self.stop()

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
            if time.monotonic() >= next_beat:
                # Sent: the next one in an interval. Not sent: try again soon, not a whole interval later.
                next_beat = time.monotonic() + (interval if self.heartbeat() else 1.0)
        close_thread_connections()

    def _retry_database(self, operation):
        """Run a database operation, reconnecting and waiting while the database is unreachable."""
        return DATABASE_OUTAGE.run(operation, f"reach the database from {self.kind} {self.name}")
