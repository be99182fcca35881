"""Cancellation against the real ``manage.py steady_queue``: cancelled tasks never run, and a cancel racing
the workers' claims has exactly one winner.

The race's size is STEADY_QUEUE_CANCEL_RACE_TASKS (default 1,000); run it with 10,000 for the full
figure, e.g. ``STEADY_QUEUE_CANCEL_RACE_TASKS=10000 ./dev test tests/acceptance/test_cancellation.py -k race``.
"""

import os
import random
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from functools import partial

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.cancellation import cancel, cancel_many, is_cancelled
from steady_queue.exceptions import TaskCancelled
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.job import job_pk
from tests.acceptance.test_concurrency_limits import max_overlap
from tests.runtime import in_threads, wait_for
from tests.testapp import cancel_tasks, tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

RACE_TASKS = int(os.environ.get("STEADY_QUEUE_CANCEL_RACE_TASKS", "1000"))
# Two worker processes of three threads each, polling often. On SQLite, eight busy writers (six
# worker threads, two cancellers) can keep a heartbeat waiting for the lock longer than the fast
# test threshold of 3 s: the workers would be pruned as dead, which is not what is tested here.
RACING_WORKERS = {
    "workers": [{"processes": 2, "threads": 3, "polling_interval": 0.05}],
    "process_alive_threshold": 60,
}
STATE_TABLES = (ReadyExecution, ScheduledExecution, BlockedExecution, ClaimedExecution, FailedExecution)


def status(result):
    return default_task_backend.get_result(result.id).status


def labels():
    return sorted(TaskRun.objects.values_list("label", flat=True))


def assert_cancelled(result):
    read = default_task_backend.get_result(result.id)
    assert read.status == TaskResultStatus.FAILED and read.errors[-1].exception_class is TaskCancelled


def stop(supervisor):
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_cancelled_ready_scheduled_and_blocked_tasks_never_run(start_supervisor):
    kept = tasks.record.enqueue("kept")
    ready = tasks.record.enqueue("ready")
    scheduled = tasks.record.using(run_after=timezone.now() + timedelta(seconds=1)).enqueue("scheduled")
    due_later = tasks.record.using(run_after=timezone.now() + timedelta(seconds=1)).enqueue("due later")
    holder = tasks.one_at_a_time.enqueue("k", "holder", 0.5)
    blocked = tasks.one_at_a_time.enqueue("k", "blocked")
    after = tasks.one_at_a_time.enqueue("k", "after")
    for result in (ready, scheduled, blocked):
        assert cancel(result.id)

    supervisor = start_supervisor()
    wait_for(
        lambda: all(status(r) == TaskResultStatus.SUCCESSFUL for r in (kept, due_later, holder, after)),
        message="the other tasks to run",
    )
    time.sleep(0.5)  # a few more polls of the workers and the dispatcher
    stop(supervisor)
    assert labels() == ["due later", "k:after", "k:holder", "kept"]
    for result in (ready, scheduled, blocked):
        assert_cancelled(result)


def test_a_cancelled_ready_task_hands_its_slot_to_the_next_blocked_one(start_supervisor):
    first = tasks.one_at_a_time.enqueue("k", "first")
    second = tasks.one_at_a_time.enqueue("k", "second")
    assert BlockedExecution.objects.filter(job_id=job_pk(second.id)).exists()
    assert cancel(first.id)
    # The dispatcher's concurrency pass could also free a slot, but only after it expires (minutes):
    # the second task runs at once because the cancel handed it the slot.
    supervisor = start_supervisor()
    wait_for(lambda: status(second) == TaskResultStatus.SUCCESSFUL, timeout=10, message="the second task")
    stop(supervisor)
    assert labels() == ["k:second"]
    assert_cancelled(first)
    assert Semaphore.objects.get().value == 1


def test_cancel_many_by_queue_and_by_task_path_while_workers_run(start_supervisor):
    reports = tasks.record.using(queue_name="reports").enqueue_many([(f"report{i}",) for i in range(20)])
    adds = tasks.add.enqueue_many([(i, i) for i in range(20)])
    kept = tasks.record.enqueue("kept")
    assert cancel_many(queue_name="reports") == 20
    assert cancel_many(task_path="tests.testapp.tasks.add") == 20
    supervisor = start_supervisor()
    wait_for(lambda: status(kept) == TaskResultStatus.SUCCESSFUL, message="the kept task")
    time.sleep(0.3)
    stop(supervisor)
    assert labels() == ["kept"]
    for result in reports + adds:
        assert_cancelled(result)


def test_a_running_task_stops_when_asked_and_reads_successful(start_supervisor):
    result = cancel_tasks.stoppable.enqueue("long", steps=400, seconds=0.05)  # 20 s if never asked
    supervisor = start_supervisor()
    wait_for(lambda: TaskRun.objects.filter(label="long").exists(), message="the task to start")
    asked = time.monotonic()
    assert cancel(result.id) is False  # running: a request, not a cancellation
    wait_for(lambda: status(result) == TaskResultStatus.SUCCESSFUL, message="the task to stop")
    assert time.monotonic() - asked < 5
    read = default_task_backend.get_result(result.id)
    assert 0 < read.return_value["stopped_at_step"] < 400
    assert not is_cancelled(Job.objects.get(pk=job_pk(result.id)))
    stop(supervisor)


def race(results, rng, figures):
    """Cancel every task, in random order, one by one and in batches, from two threads at once."""
    ids = [r.id for r in results]
    rng.shuffle(ids)
    lock = threading.Lock()

    def canceller(share, seed):
        local = random.Random(seed)
        position = 0
        while position < len(share):
            # About half the tasks one call each, half in cancel_many calls of several sizes.
            size = local.choice([5, 25, 100])
            batch, position = share[position : position + size], position + size
            if local.random() < 0.5:
                for result_id in batch:
                    won = cancel(result_id)
                    with lock:
                        figures["cancel() True" if won else "cancel() False"] += 1
                        figures.setdefault("won" if won else "lost", set()).add(job_pk(result_id))
            else:
                number = cancel_many(result_ids=batch, batch_size=local.choice([7, 500]))
                with lock:
                    figures["cancel_many cancelled"] += number
                    figures["cancel_many asked"] += len(batch)

    in_threads(*(partial(canceller, ids[i::2], i) for i in range(2)), timeout=600)


def account(results, figures):
    """Every task ran exactly once or was cancelled, never both, none lost; returns (ran, cancelled)."""
    runs = Counter(TaskRun.objects.values_list("label", flat=True))
    jobs = {job.pk: job for job in Job.objects.select_related("claimedexecution", "failedexecution")}
    assert len(jobs) == len(results)
    cancelled = {pk for pk, job in jobs.items() if is_cancelled(job)}
    ran = set(jobs) - cancelled
    assert not runs or runs.most_common(1)[0][1] == 1, "a task ran twice"
    for pk in cancelled:
        job = jobs[pk]
        assert job.errors[-1]["exception_class_path"] == "steady_queue.exceptions.TaskCancelled"
        assert runs[label_of(job)] == 0, f"{label_of(job)} was cancelled and ran"
    for pk in ran:
        job = jobs[pk]
        assert job.finished_at is not None and job.errors == [] and runs[label_of(job)] == 1, label_of(job)
    assert sum(runs.values()) == len(ran)
    for model in STATE_TABLES:
        assert not model.objects.exists(), f"{model.__name__} rows left"
    # What each call said matches what happened.
    assert figures.get("won", set()) <= cancelled and figures.get("lost", set()) <= ran
    assert figures["cancel() True"] + figures["cancel_many cancelled"] == len(cancelled)
    return ran, cancelled


def label_of(job):
    args = job.arguments["args"]
    return f"{args[0]}:{args[1]}" if len(args) == 2 else args[0]


def test_race_cancels_against_two_worker_processes_every_task_runs_once_or_is_cancelled(
    start_supervisor, record_property
):
    results = cancel_tasks.run_once.enqueue_many([(f"t{i}",) for i in range(RACE_TASKS)])
    figures = Counter()
    supervisor = start_supervisor(RACING_WORKERS)
    wait_for(lambda: TaskRun.objects.exists(), message="the workers to start")
    started = time.monotonic()
    race(results, random.Random(RACE_TASKS), figures)
    cancelling = time.monotonic() - started
    wait_for(
        lambda: not ReadyExecution.objects.exists() and not ClaimedExecution.objects.exists(),
        timeout=120,
        message="the workers to drain what was not cancelled",
    )
    stop(supervisor)

    ran, cancelled = account(results, figures)
    summary = (
        f"{RACE_TASKS} tasks: {len(ran)} ran once, {len(cancelled)} cancelled; cancel() won "
        f"{figures['cancel() True']} and lost {figures['cancel() False']} (to a claim or a finished "
        f"task), cancel_many cancelled {figures['cancel_many cancelled']} of {figures['cancel_many asked']}; "
        f"cancelling took {cancelling:.1f} s"
    )
    record_property("cancel_race", summary)
    print(f"\n{summary}")
    # Both sides won some races, or the test raced nothing.
    assert ran and cancelled


def test_race_on_limited_tasks_keeps_the_limit_and_returns_every_slot(start_supervisor, record_property):
    count = max(RACE_TASKS // 5, 200)
    results = cancel_tasks.run_once_two_at_a_time.enqueue_many([(f"k{i % 4}", str(i)) for i in range(count)])
    figures = Counter()
    supervisor = start_supervisor(RACING_WORKERS)
    wait_for(lambda: TaskRun.objects.exists(), message="the workers to start")
    race(results, random.Random(count), figures)
    # A slot a cancel failed to hand on would leave blocked tasks waiting for its expiry (minutes).
    wait_for(
        lambda: not any(m.objects.exists() for m in (ReadyExecution, BlockedExecution, ClaimedExecution)),
        timeout=60,
        message="the workers to drain what was not cancelled",
    )
    stop(supervisor)

    ran, cancelled = account(results, figures)
    assert set(Semaphore.objects.values_list("value", flat=True)) <= {2}
    by_key = {}
    for label, started_at, finished_at in TaskRun.objects.values_list("label", "started_at", "finished_at"):
        by_key.setdefault(label.split(":")[0], []).append((started_at, finished_at))
    overlaps = {key: max_overlap(intervals) for key, intervals in by_key.items()}
    assert all(overlap <= 2 for overlap in overlaps.values()), overlaps
    summary = f"{count} limited tasks: {len(ran)} ran, {len(cancelled)} cancelled; largest overlap per key {overlaps}"
    record_property("cancel_race_limited", summary)
    print(f"\n{summary}")
