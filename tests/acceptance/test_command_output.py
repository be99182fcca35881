"""What the real commands print: ``steady_queue --help`` and ``--version``, log lines, and the demo's order."""

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import django
import pytest
from django.tasks import TaskResultStatus, default_task_backend

import steady_queue
from steady_queue.conf import WORKER_DEFAULTS
from steady_queue.models import ClaimedExecution, Process, RecurringExecution
from tests.runtime import MANAGE, wait_for
from tests.testapp import tasks
from tests.testapp.models import TaskRun

REPOSITORY = Path(__file__).resolve().parents[2]
# Django's own task log lines: "Task id=... path=... state=..."
TASK_LINE = re.compile(r"^.*Task id=\S+ path=\S+ state=\w+$", re.MULTILINE)
# The format of Steady Queue's lines, which django.tasks lines must share when the project leaves them alone.
OUR_FORMAT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \[\d+\] "


def steady_queue_command(*args):
    # A wide terminal, so that argparse puts each flag's help on one line.
    return subprocess.run(
        [sys.executable, str(MANAGE), "steady_queue", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "1000"},
        timeout=60,
    )


def flag_help():
    """Each ``--option`` of ``steady_queue --help`` -> its help text (on the same line or the next ones)."""
    flags, current = {}, None
    for line in steady_queue_command("--help").stdout.splitlines():
        if line.startswith("  -"):
            match = re.match(r"  (--[\w-]+)(?: [A-Z_]+)?(?:\s{2,}(.*))?$", line)
            current = match and match[1]
            if current:
                flags[current] = match[2] or ""
        elif current and line.startswith("    "):
            flags[current] = f"{flags[current]} {line.strip()}".strip()
        else:
            current = None
    return flags


def finished(*results):
    return lambda: all(default_task_backend.get_result(r.id).is_finished for r in results)


# ``steady_queue --help`` and ``--version``


def test_every_worker_flag_says_it_replaces_the_configured_workers():
    flags = flag_help()
    assert {"--queues", "--threads", "--processes", "--only-work", "--only-dispatch", "--skip-recurring"} <= set(flags)
    # Any one of the three builds the run's single worker pool (configuration.process_specs).
    for flag in ("--queues", "--threads", "--processes"):
        assert "Replaces the configured workers for this run" in flags[flag], flag
    assert "With --threads or --processes" not in flags["--queues"]
    assert f"default '{WORKER_DEFAULTS['queues'][0]}'" in flags["--threads"]
    assert f"(default {WORKER_DEFAULTS['threads']})" in flags["--threads"]
    assert f"(default {WORKER_DEFAULTS['processes']})" in flags["--processes"]


def test_only_dispatch_says_it_starts_no_scheduler_either():
    flags = flag_help()
    assert "no dispatcher and no scheduler" in flags["--only-work"]
    assert "no worker and no scheduler" in flags["--only-dispatch"]
    assert "--only-work" in flags["--only-dispatch"]  # they cannot be combined
    assert "even if steady-queue-cron is installed" in flags["--skip-recurring"]


def test_version_is_steady_queues():
    completed = steady_queue_command("--version")
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"steady-queue {steady_queue.__version__} (Django {django.get_version()})"


# Log lines


@pytest.fixture
def start_with_settings(tmp_path, start_supervisor):
    """Start ``manage.py steady_queue`` with the test settings plus some overrides, e.g. DEBUG or LOGGING."""
    modules = (f"settings_{n}" for n in itertools.count())

    def start(overrides, args=()):
        module = next(modules)
        lines = ["from tests.settings import *  # noqa: F403"] + [f"{k} = {v!r}" for k, v in overrides.items()]
        (tmp_path / f"{module}.py").write_text("\n".join(lines) + "\n")
        env = {
            "DJANGO_SETTINGS_MODULE": module,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPOSITORY), os.environ.get("PYTHONPATH", "")]),
        }
        return start_supervisor(args=args, env=env)

    return start


def run_a_failure_and_a_success(supervisor):
    failure = tasks.fail.enqueue("boom 4711")
    success = tasks.add.enqueue(2, 3)
    wait_for(finished(failure, success), message="both tasks to finish")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    return failure, success, supervisor.output


def task_line(result, state):
    """Django's log line for a task."""
    return rf"Task id={re.escape(result.id)} path={re.escape(result.task.module_path)} state={state}"


def assert_logged_once_with_traceback(output, header):
    """``header`` starts a log line that is followed by its traceback, and the failure shows nowhere else."""
    traceback = r"\nTraceback \(most recent call last\):\n(  .*\n)+ValueError: boom 4711\n"
    assert re.search(header + traceback, output), output
    assert output.count("boom 4711") == 1, output
    assert output.count("Traceback") == 1, output


@pytest.mark.django_db(transaction=True)
def test_a_task_failure_is_logged_once_with_its_traceback(start_supervisor):
    supervisor = start_supervisor()
    failure, success, output = run_a_failure_and_a_success(supervisor)
    # Django's receiver logs it, in the same format as Steady Queue's own lines.
    assert_logged_once_with_traceback(output, OUR_FORMAT + r"django\.tasks: " + task_line(failure, "FAILED"))
    assert re.search(OUR_FORMAT + r"django\.tasks: " + task_line(success, "SUCCESSFUL") + "\n", output), output


@pytest.mark.django_db
def test_a_failure_django_does_not_log_is_logged_by_the_worker_with_its_traceback(run_tasks, caplog):
    # A claim lost while the task ran (its process was declared dead): no task_finished, so no
    # line from Django's receiver; the worker's own line carries the traceback instead.
    tasks.fail.enqueue("boom 4711")

    def lose_the_claims(jobs):
        ClaimedExecution.objects.filter(job_id__in=[job.pk for job in jobs]).delete()  # as pruning does

    with caplog.at_level(logging.DEBUG):
        (job,) = run_tasks(limit=1, after_claim=lose_the_claims)
    (error,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert error.name == "steady_queue.worker"
    assert error.getMessage() == f"Task {job.task_path} (job {job.pk}) failed"
    assert isinstance(error.exc_info[1], ValueError) and str(error.exc_info[1]) == "boom 4711"


def project_logging(logger):
    """A project's LOGGING that sends Steady Queue and ``logger`` to a handler and format of its own."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"project": {"format": "PROJECT %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"project": {"class": "logging.StreamHandler", "formatter": "project"}},
        "loggers": {
            "steady_queue": {"handlers": ["project"], "level": "INFO"},
            logger: {"handlers": ["project"], "level": "INFO", "propagate": False},
        },
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "logging_setting, prefix",
    [
        # Nothing configured: Django's DEBUG console would print django.tasks lines unformatted.
        ({}, OUR_FORMAT + r"django\.tasks: "),
        # The project's own configuration wins, whether for django.tasks or for all of django.
        (project_logging("django.tasks"), r"PROJECT (INFO|ERROR) django\.tasks: "),
        (project_logging("django"), r"PROJECT (INFO|ERROR) django\.tasks: "),
    ],
    ids=["no-logging-setting", "project-configures-django.tasks", "project-configures-django"],
)
def test_with_debug_each_task_line_shows_once_in_one_format(start_with_settings, logging_setting, prefix):
    supervisor = start_with_settings({"DEBUG": True, "LOGGING": logging_setting}, args=["-v", "1"])
    failure, success, output = run_a_failure_and_a_success(supervisor)
    assert_logged_once_with_traceback(output, prefix + task_line(failure, "FAILED"))
    lines = TASK_LINE.findall(output)
    # Started and finished, for each task: once each, and every one in the expected format.
    assert len(lines) == 4, output
    assert all(re.match(prefix, line) for line in lines), output


def output_after_ticks(supervisor, ticks):
    """Wait for the scheduler to enqueue ``ticks`` tasks, stop the supervisor gracefully; its output."""
    wait_for(lambda: RecurringExecution.objects.count() >= ticks, message=f"{ticks} ticks")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    return supervisor.output


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_enqueues_each_tick_without_an_info_line(start_supervisor, recurring_app):
    output = output_after_ticks(start_supervisor({"workers": []}), ticks=4)
    assert "Started scheduler" in output  # the process lines are still there at INFO
    assert "Enqueued recurring task" not in output


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_tick_line_is_a_debug_line(start_with_settings, recurring_app):
    output = output_after_ticks(start_with_settings({"LOGGING": {}}, args=["-v", "2"]), ticks=2)
    line = r" DEBUG \[\d+\] steady_queue\.scheduler: Enqueued recurring task every-second-a "
    assert re.search(line, output), output


# Signals


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_in_a_terminal_stops_each_process_once_and_gracefully(start_supervisor):
    results = tasks.record.enqueue_many([(f"ctrl-c{i}", 1.0) for i in range(4)])
    supervisor = start_supervisor({"workers": [{"processes": 2, "threads": 2, "polling_interval": 0.05}]})
    wait_for(lambda: Process.objects.exclude(kind="supervisor").count() == 3, message="three children")
    wait_for(lambda: TaskRun.objects.count() == 4, message="four tasks to start")
    names = dict(Process.objects.values_list("name", "kind"))

    # A terminal sends Ctrl-C's SIGINT to its whole foreground process group.
    os.killpg(supervisor.pid, signal.SIGINT)
    assert supervisor.wait() == 0
    output = supervisor.output
    received = re.findall(r"\w+ (\S+) received (SIG[A-Z]+), stopping", output)
    # Each process is told once: the supervisor by the terminal, its children by the supervisor.
    assert Counter(name for name, _ in received) == Counter(list(names)), output
    assert {name: signum for name, signum in received} == {
        name: "SIGINT" if kind == "supervisor" else "SIGTERM" for name, kind in names.items()
    }, output
    # A graceful stop: every running task finished, every process removed its row.
    assert all(default_task_backend.get_result(r.id).status == TaskResultStatus.SUCCESSFUL for r in results)
    assert TaskRun.objects.filter(finished_at__isnull=False).count() == 4
    assert not Process.objects.exists()


# ``manage.py demo``


def test_the_demo_output_is_in_order_when_redirected_to_one_file(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONUNBUFFERED", "DJANGO_SETTINGS_MODULE") and not key.startswith("STEADY_QUEUE_TEST")
    }
    env["DJANGO_SETTINGS_MODULE"] = "demo_project.settings"
    env["STEADY_QUEUE_DEMO_DATABASE"] = str(tmp_path / "demo.sqlite3")
    out = tmp_path / "out.txt"
    with out.open("w") as file:  # what "./dev demo > out.txt 2>&1" does
        completed = subprocess.run(
            [sys.executable, str(REPOSITORY / "docs" / "example" / "manage.py"), "demo", "--timeout", "30"],
            stdout=file,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=120,
        )
    lines = out.read_text().splitlines()
    assert completed.returncode == 0, lines
    assert (tmp_path / "demo.sqlite3").exists()

    def first(text):
        return next(i for i, line in enumerate(lines) if text in line)

    started = first("Started supervisor")
    assert first("Enqueueing tasks") < first("Running python manage.py steady_queue") < started, lines
    assert any("progress:" in line for line in lines[started:]), lines
    final = first("Final status")
    console = first("See them in the operator console")
    assert first("Stopped supervisor") < final < console == len(lines) - 1, lines
    results = lines[final + 1 : console]
    assert results and all(re.match(r"  \d+-[0-9a-f]{16} ", line) for line in results), lines
