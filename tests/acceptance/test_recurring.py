"""Recurring tasks with real supervisors: on time, with their options, and exactly once per tick."""

import signal
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from steady_queue.models import Job, Process, RecurringExecution, RecurringTask
from steady_queue.models.job import result_id
from tests.runtime import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_every_minute_task_fires_within_the_next_minute(start_supervisor):
    configured = {
        "minutely": {
            "task": "tests.testapp.tasks.echo",
            "schedule": "* * * * *",
            "args": ["a", 1],
            "kwargs": {"flag": True},
            "queue_name": "low",
            "priority": 42,
            "description": "every minute",
        }
    }
    started = timezone.now()
    supervisor = start_supervisor({"recurring_tasks": configured})
    job = wait_for(lambda: Job.objects.first(), timeout=75, interval=0.5, message="the first tick")
    assert (job.queue_name, job.priority) == ("low", 42)
    assert job.arguments == {"args": ["a", 1], "kwargs": {"flag": True}}
    assert job.scheduled_at.second == 0 and started < job.scheduled_at <= started + timedelta(seconds=61)
    wait_for(lambda: default_task_backend.get_result(result_id(job)).status == TaskResultStatus.SUCCESSFUL)
    assert default_task_backend.get_result(result_id(job)).return_value == {"args": ["a", 1], "kwargs": {"flag": True}}
    row = RecurringTask.objects.get(key="minutely")
    assert (row.schedule, row.description, row.last_run_at) == ("* * * * *", "every minute", job.scheduled_at)
    assert row.next_run_at == job.scheduled_at + timedelta(minutes=1)
    assert Process.objects.filter(kind="scheduler").count() == 1
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0


@pytest.mark.parametrize("schedulers", [2, 3])
def test_side_by_side_schedulers_enqueue_each_tick_exactly_once(
    start_supervisor, recurring_app, schedulers, record_property
):
    supervisors = [start_supervisor({"workers": []}) for _ in range(schedulers)]
    wait_for(lambda: Process.objects.filter(kind="scheduler").count() == schedulers, message="the schedulers")
    wait_for(lambda: RecurringExecution.objects.filter(task_key="every-second-a").count() >= 8, timeout=30,
             message="eight ticks")
    for supervisor in supervisors:
        supervisor.send(signal.SIGTERM)
    for supervisor in supervisors:
        assert supervisor.wait() == 0

    ticks = RecurringExecution.objects.values("task_key", "run_at")
    per_tick = Counter((t["task_key"], t["run_at"]) for t in ticks)
    jobs_per_tick = Job.objects.values("task_path", "arguments", "scheduled_at").annotate(n=Count("id"))
    duplicates = sum(row["n"] - 1 for row in jobs_per_tick)
    record_property("duplicates", duplicates)
    print(f"\n{schedulers} schedulers: {len(per_tick)} ticks enqueued, {duplicates} duplicate(s)")
    assert duplicates == 0
    assert max(per_tick.values()) == 1
    assert Job.objects.count() == RecurringExecution.objects.count()
    # Every second was enqueued once, with no gap, for both keys.
    for key in ("every-second-a", "every-second-b"):
        times = sorted(t["run_at"] for t in ticks if t["task_key"] == key)
        assert all(b - a == timedelta(seconds=1) for a, b in zip(times, times[1:], strict=False)), times
    output = "".join(s.output for s in supervisors)
    assert "already enqueued by another scheduler" not in output  # logged at debug level only
    assert " ERROR " not in output


def test_skip_recurring_starts_no_scheduler(start_supervisor, recurring_app):
    supervisor = start_supervisor(args=["--skip-recurring"])
    wait_for(lambda: Process.objects.filter(kind="worker").exists(), message="a worker")
    wait_for(lambda: Process.objects.filter(kind="dispatcher").exists(), message="a dispatcher")
    assert not Process.objects.filter(kind="scheduler").exists()
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait() == 0
    assert not RecurringExecution.objects.exists()
