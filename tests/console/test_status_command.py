"""``manage.py steady_queue_status`` prints what the console's overview shows, once or until Ctrl-C."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from steady_queue.models import Process, ReadyExecution
from steady_queue.queues import pause
from tests.runtime import MANAGE

pytestmark = pytest.mark.django_db


def status(*args):
    out = StringIO()
    call_command("steady_queue_status", *args, stdout=out)
    return out.getvalue()


def line_of(text, start):
    return next(line for line in text.splitlines() if line.strip().startswith(start))


def test_it_prints_the_counts_queues_processes_and_recent_failures(make_states):
    make_states(3)
    pause("low")
    ReadyExecution.objects.filter(queue_name="default").update(created_at=timezone.now() - timedelta(minutes=3))
    text = status()
    assert "Tasks: 3 failed, 3 in progress, 3 blocked, 3 scheduled, 7 ready, 3 finished, 3 cancelled" in text
    # Its latency: the age of its oldest ready task, three minutes and the instants the test took.
    assert line_of(text, "default").split()[:3] == ["default", "7", "3m"]
    assert line_of(text, "low").split() == ["low", "0", "-", "paused"]
    worker = line_of(text, "console-worker").split()
    assert worker[1] == "worker" and worker[3] == str(os.getpid()) and worker[-1] == "3"
    assert "STALE" not in text
    assert text.count("console-worker runs #") == 3
    failures = [line for line in text.splitlines() if "tests.testapp.tasks.fail " in line]
    assert len(failures) == 3 and all("ValueError: boom" in line for line in failures)


def test_a_silent_process_is_marked_stale():
    Process.objects.create(kind="worker", name="gone-quiet", pid=1, hostname="h",
                           last_heartbeat_at=timezone.now() - timedelta(hours=1))
    row = line_of(status(), "gone-quiet").split()
    assert row[4:8] == ["1h", "00m", "ago", "STALE"]


def test_failures_limits_the_failures_listed(make_states):
    make_states(3)
    assert len([line for line in status("--failures", "1").splitlines() if "ValueError: boom" in line]) == 1
    assert "Recent failures" not in status("--failures", "0")


def test_json_gives_the_same_numbers_as_data(make_states):
    make_states(3)
    data = json.loads(status("--json"))
    assert data["counts"]["ready"] == {"count": 7, "capped": False}
    assert {q["name"]: q["size"] for q in data["queues"]}["default"] == 7
    assert {p["name"]: len(p["jobs"]) for p in data["processes"]}["console-worker"] == 3
    assert [f["error_class"] for f in data["failures"]] == ["builtins.ValueError"] * 3


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_watch_refuses_an_interval_that_is_not_a_positive_number(value):
    with pytest.raises(CommandError, match="--watch"):
        call_command("steady_queue_status", "--watch", value)


def test_the_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        call_command("steady_queue_status", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--watch [SECONDS] Print again every SECONDS" in text
    assert "--json Print one JSON object" in text
    assert "--failures N How many of the latest failed tasks" in text


def run_manage(*args):
    env = {**os.environ, "STEADY_QUEUE_TEST_SUBPROCESS": "1"}
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "steady_queue_status", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_run_as_a_process_reads_the_database(make_states):
    make_states(2)
    with run_manage() as process:
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Tasks: 2 failed, 2 in progress, 2 blocked, 2 scheduled" in out
    assert "console-worker runs #" in out


@pytest.mark.django_db(transaction=True)
def test_watch_refreshes_until_ctrl_c_then_exits_cleanly(make_states):
    make_states(1)
    process = run_manage("--watch", "0.2")
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    frames = 0
    with process:
        try:
            while frames < 2:
                # A generous guard against a hung process, not a measure of speed.
                if lines.get(timeout=120).startswith("Steady Queue at "):
                    frames += 1
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            reader.join(timeout=60)
        errors = process.stderr.read()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
