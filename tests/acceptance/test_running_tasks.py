"""What the real ``manage.py steady_queue`` does with tasks: order, routing, pauses, delays, failures."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.db import queue_database
from steady_queue.models import Process
from steady_queue.models.failed_execution import retry
from steady_queue.models.job import job_pk
from steady_queue.queues import pause, resume
from tests.runtime import MANAGE, wait_for
from tests.testapp import tasks
from tests.testapp.models import Author, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


def status(result):
    return default_task_backend.get_result(result.id).status


def finished(*results):
    return lambda: all(default_task_backend.get_result(r.id).is_finished for r in results)


def test_one_thread_runs_tasks_by_priority_then_age(start_supervisor):
    for label, priority in [("p0-a", 0), ("p-50", -50), ("p10", 10), ("p0-b", 0), ("p100", 100)]:
        tasks.record.using(priority=priority).enqueue(label)
    supervisor = start_supervisor(args=["--threads", "1"])
    wait_for(lambda: TaskRun.objects.count() == 5, message="five runs")
    order = list(TaskRun.objects.order_by("started_at", "pk").values_list("label", flat=True))
    assert order == ["p100", "p10", "p0-a", "p0-b", "p-50"]
    supervisor.send(15)
    assert supervisor.wait() == 0


def test_queues_flag_routes_by_name_and_prefix(start_supervisor):
    email = tasks.record_anywhere.using(queue_name="email").enqueue("email")
    reports = tasks.record_anywhere.using(queue_name="reports-daily").enqueue("reports")
    other = tasks.record_anywhere.using(queue_name="default").enqueue("default")
    supervisor = start_supervisor(args=["--queues", "email,reports*"])
    wait_for(finished(email, reports), message="email and reports tasks")
    assert status(other) == TaskResultStatus.READY
    supervisor.send(15)
    assert supervisor.wait() == 0
    assert status(other) == TaskResultStatus.READY


def test_a_paused_queue_is_skipped_until_resumed(start_supervisor):
    # Paused before the worker starts: on PostgreSQL a claim already under way when a pause
    # commits may still take from the queue (docs/running.rst), which is not what this tests.
    pause("email")
    supervisor = start_supervisor()
    wait_for(lambda: Process.objects.filter(kind="worker").exists(), message="a worker")
    held = tasks.record_anywhere.using(queue_name="email").enqueue("held")
    passing = tasks.record_anywhere.using(queue_name="default").enqueue("passing")
    wait_for(finished(passing), message="the unpaused task")
    # Many polls later, the paused queue is still untouched.
    wait_for(lambda: timezone.now() - default_task_backend.get_result(passing.id).finished_at > timedelta(seconds=0.5))
    assert status(held) == TaskResultStatus.READY
    resume("email")
    wait_for(finished(held), message="the resumed task")
    supervisor.send(15)
    assert supervisor.wait() == 0


def test_run_after_waits_for_its_time(start_supervisor):
    supervisor = start_supervisor()
    delayed = tasks.record.using(run_after=timedelta(seconds=1.5)).enqueue("delayed")
    due = default_task_backend.get_result(delayed.id).task.run_after
    wait_for(finished(delayed), message="the delayed task")
    assert TaskRun.objects.get(label="delayed").started_at >= due
    supervisor.send(15)
    assert supervisor.wait() == 0


def test_every_kind_of_outcome_is_recorded_and_the_worker_carries_on(start_supervisor):
    gone = Author.objects.create(name="gone")
    results = {
        "deleted model": tasks.greet.enqueue(gone),
        "context": tasks.report_attempt.enqueue(fail_first=True),
        "async": tasks.async_add.enqueue(1, 2),
        "not json": tasks.return_set.enqueue(),
        "raises": tasks.fail.enqueue("no"),
        "ok": tasks.greet.enqueue(Author.objects.create(name="Ada")),
    }
    gone.delete()
    supervisor = start_supervisor()
    wait_for(finished(*results.values()), message="every task to finish")
    outcome = {name: default_task_backend.get_result(r.id) for name, r in results.items()}
    assert outcome["deleted model"].errors[0].exception_class_path == "steady_queue.arguments.DeserializationError"
    assert outcome["context"].errors[0].exception_class is RuntimeError
    assert outcome["async"].return_value == 3
    assert outcome["not json"].errors[0].exception_class is TypeError
    assert outcome["raises"].errors[0].exception_class is ValueError
    assert outcome["ok"].return_value == "hello Ada"

    assert retry([results["context"].id]) == 1
    wait_for(finished(results["context"]), message="the retried task")
    retried = default_task_backend.get_result(results["context"].id)
    assert retried.status == TaskResultStatus.SUCCESSFUL
    assert retried.return_value["attempt"] == 2 and retried.attempts == 2
    supervisor.send(15)
    assert supervisor.wait() == 0
    assert "path=tests.testapp.tasks.fail state=FAILED" in supervisor.output  # one log line per failure


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--threads", "0"], {}, "argument --threads: must be at least 1, got 0"),
        (["--queues", "*bad"], {}, "may only have '*' at its end"),
        (["--only-work", "--only-dispatch"], {}, "--only-work and --only-dispatch cannot be used together"),
        ([], {"workers": [{"threads": -1}]}, "STEADY_QUEUE['workers'][0]['threads'] must be at least 1"),
        ([], {"workers": [], "dispatchers": []}, "Nothing to run"),
    ],
)
def test_invalid_configuration_fails_before_any_process_starts(tmp_path, args, config, message):
    import json
    import os

    from tests.runtime import FAST

    completed = subprocess.run(
        [sys.executable, str(MANAGE), "steady_queue", *args],
        env={
            **os.environ,
            "STEADY_QUEUE_TEST_SUBPROCESS": "1",
            "STEADY_QUEUE_TEST_CONFIG": json.dumps({**FAST, **config}),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    assert message in completed.stderr
    assert not Process.objects.exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's locking")
@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_sqlite_with_default_settings_never_shows_a_lock_error(start_supervisor, journal_mode):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA journal_mode={journal_mode}")
    try:
        results = tasks.record.enqueue_many([(f"n{i}",) for i in range(200)])
        supervisor = start_supervisor({"workers": [{"processes": 2, "threads": 4, "polling_interval": 0.05}]})
        # Enqueue more while the workers run, as a web process would.
        extra = [tasks.record.enqueue(f"e{i}") for i in range(50)]
        wait_for(finished(*results, *extra), timeout=60, message="all 250 tasks")
        supervisor.send(15)
        assert supervisor.wait() == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=delete")
    assert TaskRun.objects.count() == 250
    assert all(status(r) == TaskResultStatus.SUCCESSFUL for r in results + extra)
    assert "locked" not in supervisor.output.lower()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's journal")
@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_sqlite_runtime_keeps_its_rollback_journal_and_leaves_wal_alone(start_supervisor, journal_mode):
    # The queue database's: the runtime prepares its connections to that one only.
    queue = connections[queue_database()]
    journal = Path(f"{queue.settings_dict['NAME']}-journal")
    with queue.cursor() as cursor:
        cursor.execute(f"PRAGMA journal_mode={journal_mode}")
    try:
        result = tasks.add.enqueue(1, 2)
        supervisor = start_supervisor()
        wait_for(finished(result), message="the task")
        supervisor.send(15)
        assert supervisor.wait() == 0
        with queue.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            # The runtime changed its own connections' mode, not the database's nor this one's.
            assert cursor.fetchone()[0] == journal_mode
        if journal_mode == "delete":
            # Its last commits (the task's outcome, the processes' rows removed) kept the journal
            # file (PERSIST), its header zeroed: no transaction to roll back in it.
            assert journal.exists()
            assert journal.read_bytes()[:28] == bytes(28)
        else:
            assert not journal.exists()
    finally:
        with queue.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=delete")
    assert status(result) == TaskResultStatus.SUCCESSFUL


def test_the_runtime_clears_old_finished_tasks_itself(start_supervisor):
    from steady_queue.models import Job

    old, recent = tasks.add.enqueue(1, 1), tasks.add.enqueue(2, 2)
    supervisor = start_supervisor({"clear_finished_jobs_after": 3600})
    wait_for(finished(old, recent), message="both tasks")
    Job.objects.filter(pk=job_pk(old.id)).update(finished_at=timezone.now() - timedelta(hours=2))
    supervisor.send(15)
    assert supervisor.wait() == 0
    # The dispatcher clears on start and then every few minutes.
    supervisor = start_supervisor({"clear_finished_jobs_after": 3600})
    wait_for(lambda: not Job.objects.filter(pk=job_pk(old.id)).exists(), message="the old task to be cleared")
    assert Job.objects.filter(pk=job_pk(recent.id)).exists()
    # (The first supervisor's dispatcher may have cleared it, if it started after the update:
    # stop this one only once it is up, not while it installs its signal handlers.)
    wait_for(lambda: "Started dispatcher" in supervisor.output, message="the dispatcher to start")
    supervisor.send(15)
    assert supervisor.wait() == 0


@pytest.mark.skipif(connection.vendor == "mysql", reason="MySQL has no notifications: its workers poll")
def test_an_idle_worker_is_woken_by_the_enqueue_not_by_polling(start_supervisor):
    """With a 60 s polling interval, only a notification can start the task within seconds."""
    slow_polling = {"workers": [{"polling_interval": 60}], "dispatchers": [{"polling_interval": 60}]}
    supervisor = start_supervisor(slow_polling)
    wait_for(lambda: Process.objects.filter(kind="worker").exists(), message="a worker")
    wait_for(lambda: "Started worker" in supervisor.output, message="the worker's first poll")
    import time

    time.sleep(1.0)  # the worker is now asleep in its long poll
    result = tasks.record.enqueue("woken")
    wait_for(finished(result), timeout=10, message="the task to run on a notification")
    delayed = tasks.record.using(run_after=timedelta(seconds=1)).enqueue("scheduled")
    wait_for(finished(delayed), timeout=10, message="the scheduled task to run on time")
    supervisor.send(15)
    assert supervisor.wait() == 0
