"""The parts every runtime process is built from: Interruptible, Registrable, Poller."""

import os
import signal
import threading
import time

import pytest
from django.db import OperationalError

from steady_queue.models import Process
from steady_queue.worker.interruptible import Interruptible
from steady_queue.worker.poller import Poller
from steady_queue.worker.registrable import Registrable


def test_a_wake_up_from_another_thread_ends_the_sleep_at_once():
    sleeper = Interruptible()
    threading.Timer(0.1, sleeper.wake_up).start()
    started = time.monotonic()
    sleeper.sleep(30)
    assert time.monotonic() - started < 5


def test_a_wake_up_before_the_sleep_ends_the_next_sleep_only():
    sleeper = Interruptible()
    for _ in range(3):
        sleeper.wake_up()
    started = time.monotonic()
    sleeper.sleep(30)
    assert time.monotonic() - started < 5
    started = time.monotonic()
    sleeper.sleep(0.2)
    assert time.monotonic() - started >= 0.19  # the three wake-ups were used up by one sleep


def test_a_signal_handler_can_wake_the_sleeper():
    sleeper = Interruptible()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: sleeper.wake_up())
    try:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        sleeper.sleep(30)
        assert time.monotonic() - started < 5
    finally:
        signal.signal(signal.SIGUSR1, previous)


class Recorder(Registrable):
    kind = "worker"

    def __init__(self):
        super().__init__()
        self.pruned = 0

    @property
    def metadata(self):
        return {"threads": 3}

    def on_pruned(self):
        self.pruned += 1


@pytest.mark.django_db
def test_a_registered_process_heartbeats_until_its_row_is_pruned():
    process = Recorder()
    row = process.register()
    assert (row.kind, row.name, row.pid, row.metadata) == ("worker", process.name, os.getpid(), {"threads": 3})
    assert process.heartbeat() is True and process.pruned == 0
    Process.objects.filter(pk=row.pk).delete()  # what another supervisor's prune does
    assert process.heartbeat() is True and process.pruned == 1


@pytest.mark.django_db
def test_a_heartbeat_that_cannot_reach_the_database_says_so(monkeypatch):
    process = Recorder()
    process.register()

    def unreachable():
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(process.process, "heartbeat", unreachable)
    assert process.heartbeat() is False and process.pruned == 0


class Rounds(Poller):
    """A poller whose rounds are scripted: a value to sleep, or an exception to raise."""

    kind = "test"
    polling_interval = 0.01

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.slept = []

    def poll(self):
        step = self.script.pop(0)
        if not self.script:
            self.stop()
        if isinstance(step, Exception):
            raise step
        return step

    def sleep(self, seconds):
        self.slept.append(seconds)


def test_a_poller_sleeps_what_each_round_asks_and_survives_a_database_error():
    poller = Rounds([0.5, 0, OperationalError("the database is restarting"), 0.25])
    poller.main_loop()
    # No sleep after a round that asks for none; at least a second after a database error.
    assert poller.slept == [0.5, 1.0, 0.25]
    assert poller.script == []
