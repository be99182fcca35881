"""Helpers for tests that run the real ``manage.py steady_queue`` as a subprocess."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connections

MANAGE = Path(__file__).resolve().parent / "manage.py"

# Fast enough for tests: heartbeats every second, dead after three silent seconds.
FAST = {
    "process_heartbeat_interval": 1,
    "process_alive_threshold": 3,
    "shutdown_timeout": 2,
    "workers": [{"queues": ["*"], "threads": 3, "polling_interval": 0.05}],
    "dispatchers": [{"polling_interval": 0.1, "batch_size": 100}],
}


def wait_for(condition, timeout=20.0, interval=0.05, message="condition"):
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
        # Each poll must see what other processes committed since.
        connections.close_all()


class SupervisorProcess:
    """A running ``manage.py steady_queue``; its output is collected in a file."""

    def __init__(self, tmp_path, config=None, args=(), env=None, *, defaults=FAST):
        env = {
            **os.environ,
            "STEADY_QUEUE_TEST_SUBPROCESS": "1",
            "STEADY_QUEUE_TEST_CONFIG": json.dumps({**defaults, **(config or {})}),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = Path(tmp_path) / f"supervisor-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, str(MANAGE), "steady_queue", "-v", "2", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    @property
    def pid(self):
        return self.popen.pid

    @property
    def output(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def alive(self):
        return self.popen.poll() is None

    def send(self, signum):
        self.popen.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=60):
        """Stop it with a signal; whatever still runs after ``timeout`` is killed."""
        if self.alive():
            self.send(signum)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_everything()

    def wait(self, timeout=30):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"supervisor did not exit within {timeout} s:\n{self.output}") from None

    def kill_everything(self):
        """SIGKILL the supervisor and every process it started: nothing is left running."""
        for pid in session_pids(self.popen.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait()
        if not self._log.closed:
            self._log.close()


def session_pids(sid):
    """The live processes of session ``sid``.

    The supervisor is started in a session of its own; its children each have their own process
    group (so that a terminal's Ctrl-C reaches the supervisor alone) but stay in its session.
    """
    listing = subprocess.run(["ps", "-A", "-o", "pid="], capture_output=True, text=True, check=True).stdout
    pids = []
    for pid in map(int, listing.split()):
        try:
            if os.getsid(pid) == sid:
                pids.append(pid)
        except OSError:
            pass  # gone since, or not ours to look at
    return pids


def in_threads(*functions, timeout=120):
    """Run each function in a thread of its own (its own connection); re-raise the first error."""
    errors = []

    def run(function):
        try:
            function()
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]


def write_queue_is_free(database_name):
    """Whether another process could take the SQLite write queue of this database file right now."""
    with open(f"{database_name}-steady-queue.lock", "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True
