"""The console's numbers (steady_queue.console.stats), read from real rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from steady_queue.console import stats
from steady_queue.console.statuses import STATUSES
from steady_queue.models import Job, Pause, ReadyExecution
from steady_queue.models.job import job_pk
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def test_a_queue_reads_its_size_latency_and_pause():
    old = tasks.send_email.enqueue("a@example.com")
    tasks.send_email.enqueue("b@example.com")
    ReadyExecution.objects.filter(job_id=job_pk(old.id)).update(created_at=timezone.now() - timedelta(minutes=5))
    Pause.objects.create(queue_name="email")
    now = timezone.now()
    email = next(queue for queue in stats.queues(now) if queue.name == "email")
    assert (email.size, email.paused) == (2, True)
    assert 299 <= email.latency <= 301


def test_counts_that_read_the_jobs_table_stop_at_the_cap(run_tasks):
    tasks.add.enqueue_many([(i, i) for i in range(5)])
    run_tasks()
    assert stats.count_rows(STATUSES["finished"], cap=3) == stats.Tally(3, capped=True)
    assert str(stats.count_rows(STATUSES["finished"], cap=3)) == "3+"
    assert stats.count_rows(STATUSES["finished"], cap=5) == stats.Tally(5, capped=False)


def test_failed_counts_filtered_by_task_or_queue_are_exact_and_read_the_failed_table_alone(run_tasks):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from steady_queue.db import queue_database
    from steady_queue.models import FailedExecution

    tasks.fail.enqueue_many([("x",)] * 4)
    tasks.add.enqueue(1, 1)
    run_tasks()
    failed = FailedExecution.objects.get(job_id=Job.objects.filter(task_path="tests.testapp.tasks.fail").first().pk)
    assert (failed.task_path, failed.queue_name) == ("tests.testapp.tasks.fail", "default")
    with CaptureQueriesContext(connections[queue_database()]) as queries:
        by_task = stats.count_rows(STATUSES["failed"], task_path="tests.testapp.tasks.fail", cap=2)
        by_queue = stats.count_rows(STATUSES["failed"], queue_name="default", cap=2)
        by_other_task = stats.count_rows(STATUSES["failed"], task_path="tests.testapp.tasks.add")
    assert (by_task, by_queue, by_other_task) == (stats.Tally(4), stats.Tally(4), stats.Tally(0))
    assert all(Job._meta.db_table not in query["sql"] for query in queries.captured_queries)


def test_the_last_hour_counts_tasks_per_minute_and_each_queues_longest_wait(run_tasks):
    tasks.add.enqueue(1, 1)
    tasks.fail.enqueue("x")
    run_tasks()
    now = timezone.now()
    Job.objects.update(finished_at=now - timedelta(minutes=10))
    waited = Job.objects.get(task_path="tests.testapp.tasks.add")
    Job.objects.filter(pk=waited.pk).update(last_attempted_at=waited.created_at + timedelta(seconds=30))
    activity = stats.activity(now)
    ended = Job.objects.first().finished_at
    position = next(i for i, start in enumerate(activity.starts) if start <= ended < start + timedelta(minutes=1))
    assert (activity.succeeded[position], activity.failed[position]) == (1, 1)
    assert sum(activity.succeeded) == 1 and sum(activity.failed) == 1
    assert activity.waits["default"][position] == pytest.approx(30, abs=1)


def test_tasks_that_ended_more_than_an_hour_ago_are_left_out(run_tasks):
    tasks.add.enqueue(1, 1)
    run_tasks()
    Job.objects.update(finished_at=timezone.now() - timedelta(hours=2))
    assert sum(stats.activity().succeeded) == 0
