"""Wake-ups that arrive faster than polling: PostgreSQL LISTEN/NOTIFY, SQLite's data_version.

A watcher runs in a thread of its own and calls ``wake_up`` when there may be new work. Polling
stays the safety net: while a watcher works, the process polls far less often
(``NOTIFIED_POLLING_INTERVAL``); when it fails, it reconnects and polling goes back to normal.

A working LISTEN is not enough: behind PgBouncer in transaction pooling mode, LISTEN succeeds on
whichever server connection the pooler lends for that one statement, and notifications go to that
server connection, not to the listener. So the PostgreSQL watcher counts as working only once a
probe, a NOTIFY sent through the queue database like the triggers' own, has reached it; it probes
again every ``PROBE_EVERY`` seconds.
"""

import itertools
import logging
import os
import sqlite3
import threading
import time

from django.db import connections

from steady_queue.conf import get_config
from steady_queue.sql import dialect_class

logger = logging.getLogger("steady_queue.processes")

NOTIFIED_POLLING_INTERVAL = 10.0
CHANNEL_READY = "steady_queue_ready"
CHANNEL_SCHEDULED = "steady_queue_scheduled"
SQLITE_CHECK_EVERY = 0.005
# Probes carry a payload that names them; the triggers' notifications carry none. Listeners ignore
# every probe but their own: a probe must never wake a process up.
PROBE_PREFIX = "steady-queue-probe:"
PROBE_EVERY = 60.0
PROBE_TIMEOUT = 5.0


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
    """LISTEN on a connection of its own to ``listen_using``; probes go through ``using``, the queue's."""

    _probe_ids = itertools.count()

    def __init__(self, using, channel, wake_up, stopping, *, listen_using=None, probe_every=PROBE_EVERY,
                 probe_timeout=PROBE_TIMEOUT):
        super().__init__(using, channel, wake_up, stopping)
        self.listen_using = listen_using or using
        self.probe_every = probe_every
        self.probe_timeout = probe_timeout
        self._probe_prefix = f"{PROBE_PREFIX}{os.getpid()}-{id(self)}-"
        self._probe_sent_at = None  # of the probe still awaited
        self._next_probe = 0.0
        self._failing = False

    def watch(self):
        connection = connections[self.listen_using]
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = True
            self.listen(raw)
            self.wake_up()  # something may have arrived before the LISTEN
            self._probe_sent_at, self._next_probe = None, time.monotonic()
            while not self.stopping.is_set():
                now = time.monotonic()
                if self._probe_sent_at is not None and now - self._probe_sent_at > self.probe_timeout:
                    self._probe_lost()
                if now >= self._next_probe:
                    # The round trip also notices a listening connection that died silently.
                    raw.execute("SELECT 1")
                    self._send_probe()
                for notification in raw.notifies(timeout=1.0, stop_after=1):
                    self._received(notification.payload)
        finally:
            raw.close()

    def listen(self, raw):
        raw.execute(f"LISTEN {self.channel}")

    def send_probe(self, payload):
        """NOTIFY through the queue database, on a short-lived connection of its own."""
        connection = connections[self.using]
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = True
            raw.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
        finally:
            raw.close()

    def _send_probe(self):
        sent_at = time.monotonic()
        self.send_probe(f"{self._probe_prefix}{next(self._probe_ids)}")
        if self._probe_sent_at is None:
            self._probe_sent_at = sent_at
        self._next_probe = sent_at + self.probe_every

    def _received(self, payload):
        if not payload.startswith(PROBE_PREFIX):
            self.wake_up()
        elif payload.startswith(self._probe_prefix):
            self._probe_sent_at = None
            self.healthy.set()
            if self._failing:
                self._failing = False
                logger.info("Notifications on %s reach the listener again; polling less often", self.channel)

    def _probe_lost(self):
        self._probe_sent_at = None
        self.healthy.clear()
        if self._failing:
            return
        self._failing = True
        if self.listen_using == self.using:
            advice = (
                f"if the database {self.using!r} goes through a pooler such as PgBouncer in transaction mode, "
                "set STEADY_QUEUE['listener_database'] to a DATABASES alias that connects to PostgreSQL directly"
            )
        else:
            advice = (
                f"check that STEADY_QUEUE['listener_database'] = {self.listen_using!r} connects directly (no "
                f"pooler) to the same PostgreSQL database as {self.using!r}"
            )
        logger.warning(
            "Notifications on %s do not reach this process: a probe sent through the database %r did not arrive "
            "within %.0f s on the listening connection (%r). Polling at the normal interval instead; %s.",
            self.channel, self.using, self.probe_timeout, self.listen_using, advice,
        )


class SQLiteWatcher(Watcher):
    """Another connection's commit changes ``PRAGMA data_version``: cheap to read (in rollback-journal mode
    a shared lock for a moment, in WAL mode none)."""

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
    # The database's dialect says how its workers can be woken (steady_queue.sql).
    wake_ups = dialect_class(connection).wake_ups
    if wake_ups == "notify":
        listen_using = get_config().listener_database or using
        return PostgresWatcher(using, channel, wake_up, stopping, listen_using=listen_using).start()
    if wake_ups == "data_version" and not connection.is_in_memory_db():
        return SQLiteWatcher(using, channel, wake_up, stopping, sqlite_check_every).start()
    return None
