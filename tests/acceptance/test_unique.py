"""@unique under real contention: enqueueing processes racing for one key, and a real worker releasing keys."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.tasks import TaskResultStatus, default_task_backend

from steady_queue.models import Job, ReadyExecution, UniqueKey
from steady_queue.models.job import result_id
from tests.runtime import wait_for
from tests.testapp import unique_tasks as ut
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

ENQUEUER = Path(__file__).with_name("unique_enqueuer.py")
PROCESSES = 4
CALLS = 1000


def race(tmp_path, mode):
    """Run PROCESSES enqueuers of refresh(1), CALLS calls each, started together; return their reports."""
    go = tmp_path / "go"
    env = {**os.environ, "STEADY_QUEUE_TEST_SUBPROCESS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, str(ENQUEUER), str(go), str(CALLS), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    go.touch()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


@pytest.mark.parametrize("mode", ["single", "many"])
def test_four_processes_enqueueing_one_key_a_thousand_times_each_make_one_task(tmp_path, mode, record_property):
    reports = race(tmp_path, mode)

    (job,) = Job.objects.all()
    assert ReadyExecution.objects.filter(job=job).exists()
    (row,) = UniqueKey.objects.all()
    assert row.key == "tests.testapp.unique_tasks.refresh/account-1"
    assert (row.result_id, row.job_id) == (result_id(job), job.pk)
    returned = Counter()
    for report in reports:
        returned.update(report["ids"])
    # Every one of the 4,000 calls returned the one task's result id.
    assert returned == {result_id(job): PROCESSES * CALLS}
    seconds = [round(report["seconds"], 2) for report in reports]
    record_property("seconds_per_process", seconds)
    print(f"\n{PROCESSES} x {CALLS} calls ({mode}): one task; seconds per process {seconds}")


@pytest.fixture
def wal_if_sqlite():
    """On SQLite, WAL mode for the test, as docs/sqlite.rst recommends.

    In Django's default rollback-journal mode a task's own write (TaskRun) is not queued with the
    runtime's writers and, behind four processes enqueueing flat out, can wait past the busy
    timeout (see docs/sqlite.rst, "How the workers take turns"); that is not what this test is about.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=wal")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=delete")


def test_racing_enqueues_while_workers_take_the_tasks_keep_one_pending_at_a_time(
    tmp_path, start_supervisor, record_property, wal_if_sqlite
):
    # Workers claim each task as it comes, releasing its key: the enqueuers race for a free key
    # again and again, not only once.
    supervisor = start_supervisor({"workers": [{"processes": 2, "threads": 2, "polling_interval": 0.01}]})
    reports = race(tmp_path, "single")
    wait_for(lambda: not Job.objects.filter(finished_at=None).exists(), message="every task to finish")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0

    jobs = {result_id(job): job.pk for job in Job.objects.all()}
    assert len(jobs) > 1, "the workers released no key during the race"
    # Every call returned an existing task, each task ran once and succeeded.
    assert sum(sum(report["ids"].values()) for report in reports) == PROCESSES * CALLS
    assert set().union(*(report["ids"] for report in reports)) <= set(jobs)
    assert TaskRun.objects.count() == len(jobs)
    assert not Job.objects.exclude(failedexecution=None).exists()
    # One pending task at a time: once a process was given a task, no call of any process is given
    # an older one later, and each task was returned until the next one existed.
    for report in reports:
        order = [jobs[result] for result in report["runs"]]
        assert order == sorted(set(order)), order
    record_property("tasks", len(jobs))
    print(f"\n{PROCESSES} x {CALLS} calls with workers taking the tasks: {len(jobs)} tasks, one pending at a time")


def test_a_real_worker_releases_keys_when_tasks_start_or_finish(start_supervisor):
    started = ut.refresh.enqueue(1, "slow", 1.5)
    finished = ut.rebuild.enqueue(1, "slow", 1.5)
    supervisor = start_supervisor()
    wait_for(lambda: TaskRun.objects.filter(label__endswith=":1:slow").count() == 2, message="both tasks to start")

    # Held until started: the worker's claim gave the key up.
    after_start = ut.refresh.enqueue(1, "next")
    assert after_start.id != started.id
    # Held until finished: the running task is still the one.
    while_running = ut.rebuild.enqueue(1, "next")
    assert while_running.id == finished.id and while_running.status == TaskResultStatus.RUNNING

    wait_for(lambda: default_task_backend.get_result(finished.id).status == TaskResultStatus.SUCCESSFUL,
             message="the held task to finish")
    after_finish = ut.rebuild.enqueue(1, "after")
    assert after_finish.id != finished.id
    wait_for(lambda: all(default_task_backend.get_result(r.id).status == TaskResultStatus.SUCCESSFUL
                         for r in (started, after_start, after_finish)), message="every task to succeed")
    # Nothing ran twice, and every key was given up (the worker's claim took the keys held until started).
    assert Counter(TaskRun.objects.values_list("label", flat=True)).most_common(1)[0][1] == 1
    assert not UniqueKey.objects.filter(key__startswith="tests.testapp.unique_tasks.refresh/").exists()
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
