from datetime import timedelta

import pytest
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued

from steady_queue.arguments import SerializationError
from steady_queue.models import Job, ReadyExecution, ScheduledExecution
from steady_queue.models.job import job_pk
from steady_queue.task import Call
from tests.markers import fast_sql_only
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def test_enqueue_many_accepts_calls_tuples_and_dicts():
    results = tasks.send_email.enqueue_many(
        [Call("a@example.com", subject="Hi"), ("b@example.com",), {"address": "c@example.com"}]
    )
    assert [r.args for r in results] == [["a@example.com"], ["b@example.com"], []]
    assert [r.kwargs for r in results] == [{"subject": "Hi"}, {}, {"address": "c@example.com"}]
    assert sorted(job_pk(r.id) for r in results) == sorted(Job.objects.values_list("pk", flat=True))
    assert ReadyExecution.objects.filter(queue_name="email", priority=10).count() == 3


@fast_sql_only
@pytest.mark.parametrize("count", [10, 500])
def test_enqueue_many_uses_the_same_statements_for_any_count(count, capture_queries):
    with capture_queries() as queries:
        tasks.add.enqueue_many([(i, i) for i in range(count)])
    # One statement on PostgreSQL, two on SQLite (inside a transaction), whatever the count.
    assert len(queries.captured_queries) == (1 if queries.connection.vendor == "postgresql" else 2)
    assert ReadyExecution.objects.count() == count


def test_enqueue_many_with_a_delay_schedules_every_job():
    tasks.add.using(run_after=timedelta(hours=1)).enqueue_many([(1, 1), (2, 2)])
    assert ScheduledExecution.objects.count() == 2 and ReadyExecution.objects.count() == 0


def test_one_bad_call_writes_nothing():
    with pytest.raises(SerializationError, match=r"args\[0\] has unsupported type builtins.set"):
        tasks.echo.enqueue_many([(1,), (2,), ({3},)])
    assert Job.objects.count() == 0


def test_a_call_of_the_wrong_shape_is_rejected():
    with pytest.raises(TypeError, match="enqueue_many\\(\\) takes Call"):
        tasks.echo.enqueue_many([[1, 2]])
    assert Job.objects.count() == 0


def test_an_invalid_task_writes_nothing():
    with pytest.raises(InvalidTask):
        tasks.add.using(queue_name="nope").enqueue_many([(1, 1)])
    assert Job.objects.count() == 0


def test_enqueue_many_of_nothing_is_nothing():
    assert tasks.add.enqueue_many([]) == []


def test_each_enqueued_call_sends_task_enqueued():
    seen = []
    task_enqueued.connect(receiver := lambda sender, task_result, **kw: seen.append(task_result.id))
    try:
        results = tasks.add.enqueue_many([(1, 1), (2, 2)])
    finally:
        task_enqueued.disconnect(receiver)
    assert seen == [r.id for r in results]
