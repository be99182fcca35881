"""Concurrency limits under real contention: two worker processes with four threads each."""

import os
import signal
from collections import Counter, defaultdict

import pytest
from django.tasks import TaskResultStatus, default_task_backend

from steady_queue.exceptions import ProcessExitError
from steady_queue.models import BlockedExecution, Job, Process
from tests.runtime import wait_for
from tests.testapp import tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

CONTENDED = {"workers": [{"processes": 2, "threads": 4, "polling_interval": 0.05}]}


def max_overlap(intervals):
    """The largest number of intervals open at one instant (an end at t comes before a start at t)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def overlaps_by_key():
    by_key = defaultdict(list)
    for label, started, finished in TaskRun.objects.values_list("label", "started_at", "finished_at"):
        by_key[label.split(":")[0]].append((started, finished))
    return {key: max_overlap(intervals) for key, intervals in by_key.items()}


def test_limits_hold_for_a_thousand_tasks_over_a_few_keys(start_supervisor, record_property):
    calls_one = [(f"one-{i % 3}", str(i), 0.002) for i in range(600)]
    calls_two = [(f"two-{i % 2}", str(i), 0.002) for i in range(400)]
    results = tasks.one_at_a_time.enqueue_many(calls_one) + tasks.two_at_a_time.enqueue_many(calls_two)
    supervisor = start_supervisor(CONTENDED)
    wait_for(lambda: TaskRun.objects.filter(finished_at__isnull=False).count() == 1000, timeout=240,
             interval=0.5, message="1,000 tasks to finish")
    wait_for(lambda: not Job.objects.filter(finished_at__isnull=True).exists(), message="outcomes recorded")
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0

    # Every task ran exactly once and succeeded.
    assert Counter(TaskRun.objects.values_list("label", flat=True)).most_common(1)[0][1] == 1
    assert {default_task_backend.get_result(r.id).status for r in results[::50]} == {TaskResultStatus.SUCCESSFUL}
    assert not BlockedExecution.objects.exists()

    overlaps = overlaps_by_key()
    record_property("max_overlap_per_key", overlaps)
    print(f"\nmeasured maximum overlap per key: {overlaps}")
    assert {key: overlaps[key] for key in ("one-0", "one-1", "one-2")} == {"one-0": 1, "one-1": 1, "one-2": 1}
    assert overlaps["two-0"] <= 2 and overlaps["two-1"] <= 2
    # Different keys ran in parallel: across all keys, more than one task ran at a time.
    everything = list(TaskRun.objects.values_list("started_at", "finished_at"))
    assert max_overlap(everything) > 1


def test_a_worker_killed_while_holding_a_slot_passes_it_on(start_supervisor):
    holder = tasks.one_at_a_time.enqueue("k", "holder", 30.0)
    waiting = tasks.one_at_a_time.enqueue("k", "waiting")
    supervisor = start_supervisor()
    wait_for(lambda: TaskRun.objects.filter(label="k:holder").exists(), message="the holder to start")
    assert default_task_backend.get_result(waiting.id).status == TaskResultStatus.READY
    (worker,) = Process.objects.filter(kind="worker")

    os.kill(worker.pid, signal.SIGKILL)
    wait_for(lambda: default_task_backend.get_result(waiting.id).status == TaskResultStatus.SUCCESSFUL,
             message="the waiting task to run")
    assert default_task_backend.get_result(holder.id).errors[-1].exception_class is ProcessExitError
    run_times = dict(TaskRun.objects.values_list("label", "started_at"))
    assert run_times["k:waiting"] > run_times["k:holder"]
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


def test_a_failure_releases_the_next_task_in_a_real_worker(start_supervisor):
    failing = tasks.one_at_a_time_failing.enqueue("f", "first", 0.2)
    after = tasks.one_at_a_time_failing.enqueue("f", "second")
    supervisor = start_supervisor()
    wait_for(lambda: default_task_backend.get_result(after.id).is_finished, message="both tasks")
    assert default_task_backend.get_result(failing.id).status == TaskResultStatus.FAILED
    runs = dict(TaskRun.objects.values_list("label", "started_at"))
    assert runs["f:second"] >= runs["f:first"]
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
