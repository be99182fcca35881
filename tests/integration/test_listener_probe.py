"""The PostgreSQL watcher trusts its LISTEN only once a probe NOTIFY, sent like the triggers' own, reached it.

Real PostgreSQL, real LISTEN and NOTIFY: a lost notification is a probe sent to a channel no one
listens on, which is what a pooled listener amounts to (its notifications go elsewhere).
"""

import logging
import threading

import pytest
from django.db import connections

from steady_queue.conf import get_config
from steady_queue.db import queue_database
from steady_queue.worker.notify import NOTIFIED_POLLING_INTERVAL, PostgresWatcher
from tests.runtime import wait_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connections["default"].vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's"),
]

CHANNEL = "steady_queue_probe_test"  # not the workers' channel: a worker elsewhere must not see these


class CountingWatcher(PostgresWatcher):
    """Counts its wake-ups and probes; while ``lose_probes`` is set, its probes go where no one listens."""

    def __init__(self, lose_probes=False, **options):
        self.wake_ups = 0
        self.probes = 0
        self.lose_probes = lose_probes
        stopping = threading.Event()
        super().__init__(
            queue_database(), CHANNEL, self._woken, stopping,
            listen_using=get_config().listener_database or queue_database(), **options,
        )

    def _woken(self):
        self.wake_ups += 1

    def send_probe(self, payload):
        self.probes += 1
        if self.lose_probes:
            self.notify(payload, channel=f"{CHANNEL}_nowhere")
        else:
            super().send_probe(payload)

    def notify(self, payload, channel=CHANNEL):
        connection = connections[self.using]
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = True
            raw.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        finally:
            raw.close()


@pytest.fixture
def watcher():
    started = []

    def start(**options):
        watcher = CountingWatcher(**options)
        started.append(watcher)
        return watcher.start()

    yield start
    for watcher in started:
        watcher.stopping.set()
        watcher._thread.join(timeout=10)


def warnings_in(caplog):
    return [r for r in caplog.records if r.name == "steady_queue.processes" and r.levelno == logging.WARNING]


def test_a_probe_that_arrives_makes_the_watcher_healthy_and_wakes_no_one(watcher):
    watching = watcher(probe_every=0.1)
    wait_for(watching.healthy.is_set, message="the first probe to arrive")
    assert watching.polling_interval(0.1) == NOTIFIED_POLLING_INTERVAL
    wait_for(lambda: watching.probes >= 3, message="more probes")
    # One wake-up follows the LISTEN; a trigger's notification (no payload) is the next. Notifications
    # arrive in commit order: every probe sent before it has arrived when it does, and woke no one.
    woken = watching.wake_ups
    watching.notify("")
    wait_for(lambda: watching.wake_ups > woken, message="the wake-up")
    assert watching.wake_ups == 2


def test_another_process_probe_wakes_no_one(watcher):
    watching = watcher(probe_every=3600)
    wait_for(watching.healthy.is_set, message="the first probe to arrive")
    watching.notify("steady-queue-probe:12345-1-0")
    watching.notify("")
    wait_for(lambda: watching.wake_ups == 2, message="the trigger's wake-up")
    assert watching.healthy.is_set()


def test_probes_that_never_arrive_make_it_unhealthy_with_one_warning_until_they_arrive_again(watcher, caplog):
    caplog.set_level(logging.INFO, logger="steady_queue.processes")
    watching = watcher(probe_every=0.2, probe_timeout=0.2, lose_probes=True)
    wait_for(lambda: warnings_in(caplog), message="the warning")
    assert not watching.healthy.is_set()
    assert watching.polling_interval(0.1) == 0.1  # the normal interval, not the notified one
    message = warnings_in(caplog)[0].getMessage()
    assert "do not reach this process" in message and "listener_database" in message
    wait_for(lambda: watching.probes >= 5, message="more lost probes")
    assert len(warnings_in(caplog)) == 1

    watching.lose_probes = False
    wait_for(watching.healthy.is_set, message="a probe to arrive again")
    assert watching.polling_interval(0.1) == NOTIFIED_POLLING_INTERVAL
    assert any("reach the listener again" in r.getMessage() for r in caplog.records)

