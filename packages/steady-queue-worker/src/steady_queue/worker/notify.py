"""Wake-ups that arrive faster than polling: PostgreSQL LISTEN/NOTIFY, SQLite's data_version.

A watcher runs in a thread of its own and calls ``wake_up`` when there may be new work. Polling
stays the safety net: while a watcher works, the process polls far less often
(``NOTIFIED_POLLING_INTERVAL``); when it fails, it reconnects and polling goes back to normal.
"""

import logging
import sqlite3
import threading
import time

from django.db import connections

logger = logging.getLogger("steady_queue.processes")

NOTIFIED_POLLING_INTERVAL = 10.0
CHANNEL_READY = "steady_queue_ready"
CHANNEL_SCHEDULED = "steady_queue_scheduled"
SQLITE_CHECK_EVERY = 0.005


class Watcher:
    def __init__(self, using, channel, wake_up, stopping, check_every=SQLITE_CHECK_EVERY):
        self.using = using
        self.check_every = check_every
        self.channel = channel
        self.wake_up = wake_up
        self.stopping = stopping
        self.healthy = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"steady-queue-{channel}", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def polling_interval(self, normal):
        return max(normal, NOTIFIED_POLLING_INTERVAL) if self.healthy.is_set() else normal

    def _run(self):
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self.watch()
            except Exception as error:
                if self.stopping.is_set():
                    break
                logger.warning("Wake-ups on %s interrupted (%s); polling until they are back", self.channel, error)
            self.healthy.clear()
            self.wake_up()  # something may have arrived while not watching
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def watch(self):
        raise NotImplementedError


class PostgresWatcher(Watcher):
    def watch(self):
        connection = connections[self.using]
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = True
            raw.execute(f"LISTEN {self.channel}")
            self.healthy.set()
            self.wake_up()
            last_check = time.monotonic()
            while not self.stopping.is_set():
                for _ in raw.notifies(timeout=1.0, stop_after=1):
                    self.wake_up()
                if time.monotonic() - last_check > 30:
                    # A round trip now and then notices a connection that died silently.
                    raw.execute("SELECT 1")
                    last_check = time.monotonic()
        finally:
            raw.close()


class SQLiteWatcher(Watcher):
    """Another connection's commit changes ``PRAGMA data_version``: cheap to read, no lock taken."""

    def watch(self):
        name = connections[self.using].settings_dict["NAME"]
        raw = sqlite3.connect(str(name), check_same_thread=False)
        try:
            last = raw.execute("PRAGMA data_version").fetchone()[0]
            self.healthy.set()
            while not self.stopping.wait(self.check_every):
                version = raw.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    self.wake_up()
        finally:
            raw.close()


def watcher_for(using, channel, wake_up, stopping, sqlite_check_every=SQLITE_CHECK_EVERY):
    """The watcher that suits the database, started; None where there is none (or for in-memory SQLite)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        return PostgresWatcher(using, channel, wake_up, stopping).start()
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return SQLiteWatcher(using, channel, wake_up, stopping, sqlite_check_every).start()
    return None
