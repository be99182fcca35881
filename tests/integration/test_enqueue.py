import datetime
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued
from django.utils import timezone

from steady_queue.arguments import SerializationError
from steady_queue.models import Job, ReadyExecution, ScheduledExecution
from steady_queue.models.job import job_pk, result_id
from tests.databases import queue_connection
from tests.markers import fast_sql_only
from tests.testapp import tasks
from tests.testapp.models import Author, Tag

pytestmark = pytest.mark.django_db


def assert_nothing_written():
    assert Job.objects.count() == 0
    assert ReadyExecution.objects.count() == 0
    assert ScheduledExecution.objects.count() == 0


def test_enqueue_writes_the_job_and_a_ready_row():
    result = tasks.add.enqueue(1, 2)

    job = Job.objects.get()
    assert result.id == result_id(job)
    assert result.status == TaskResultStatus.READY
    assert result.args == [1, 2] and result.kwargs == {}
    assert result.backend == "default"
    assert result.enqueued_at == job.created_at
    assert job.task_path == "tests.testapp.tasks.add"
    assert job.queue_name == "default" and job.priority == 0
    assert job.arguments == {"args": [1, 2], "kwargs": {}}
    ready = ReadyExecution.objects.get()
    assert (ready.job_id, ready.queue_name, ready.priority) == (job.pk, "default", 0)
    assert not ScheduledExecution.objects.exists()


def test_decorator_queue_and_priority_are_stored():
    tasks.send_email.enqueue("a@example.com")
    ready = ReadyExecution.objects.get()
    assert (ready.queue_name, ready.priority) == ("email", 10)


@pytest.mark.parametrize("priority", [-100, -1, 0, 55, 100])
def test_using_priority_is_accepted_across_the_whole_range(priority):
    tasks.add.using(priority=priority).enqueue(1, 1)
    assert Job.objects.get().priority == priority
    assert ReadyExecution.objects.get().priority == priority


@pytest.mark.parametrize("priority", [-101, 101, 1.5])
def test_out_of_range_priority_is_rejected_before_writing(priority):
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        tasks.add.using(priority=priority).enqueue(1, 1)
    assert_nothing_written()


def test_a_queue_outside_the_backend_queues_is_rejected():
    with pytest.raises(InvalidTask, match=r"Queue .nope. is not in TASKS\[.default.\]\[.QUEUES.\]"):
        tasks.add.using(queue_name="nope").enqueue(1, 1)
    assert_nothing_written()


def test_a_backend_without_queues_accepts_any_queue():
    result = tasks.open_queue_task.enqueue()
    assert Job.objects.get(pk=job_pk(result.id)).queue_name == "anything-goes"
    assert Job.objects.get(pk=job_pk(result.id)).backend == "open"


def test_run_after_in_the_future_schedules_the_job():
    when = timezone.now() + timedelta(hours=1)
    result = tasks.add.using(run_after=when).enqueue(1, 2)
    scheduled = ScheduledExecution.objects.get()
    assert scheduled.scheduled_at == when
    assert scheduled.job_id == job_pk(result.id)
    assert not ReadyExecution.objects.exists()
    assert result.status == TaskResultStatus.READY
    assert result.task.run_after == when


def test_run_after_in_the_past_is_ready_at_once():
    when = timezone.now() - timedelta(minutes=1)
    tasks.add.using(run_after=when).enqueue(1, 2)
    assert ReadyExecution.objects.count() == 1
    assert Job.objects.get().scheduled_at == when


def test_run_after_accepts_a_delay_counted_from_each_enqueue():
    delayed = tasks.add.using(run_after=timedelta(minutes=5))
    assert delayed.run_after is None and delayed.run_delay == timedelta(minutes=5)

    before = timezone.now()
    first = delayed.enqueue(1, 2)
    second = delayed.enqueue(3, 4)
    after = timezone.now()

    for result in (first, second):
        scheduled_at = ScheduledExecution.objects.get(job_id=job_pk(result.id)).scheduled_at
        assert before + timedelta(minutes=5) <= scheduled_at <= after + timedelta(minutes=5)
        assert result.task.run_after == scheduled_at
    assert not ReadyExecution.objects.exists()


def test_a_datetime_run_after_replaces_an_earlier_delay():
    when = timezone.now() + timedelta(days=1)
    task = tasks.add.using(run_after=timedelta(seconds=5)).using(run_after=when)
    assert task.run_after == when and task.run_delay is None


def test_naive_run_after_is_rejected():
    with pytest.raises(InvalidTask, match="run_after must be an aware datetime"):
        tasks.add.using(run_after=datetime.datetime(2030, 1, 1))


def test_task_enqueued_signal_is_sent_with_the_stored_result():
    received = []

    def receiver(sender, task_result, **kwargs):
        received.append((sender, task_result.id, Job.objects.filter(pk=job_pk(task_result.id)).exists()))

    task_enqueued.connect(receiver)
    try:
        result = tasks.add.enqueue(1, 2)
    finally:
        task_enqueued.disconnect(receiver)
    assert received == [(type(task_backends["default"]), result.id, True)]


def test_rich_arguments_enqueue_and_read_back():
    author = Author.objects.create(name="Ada")
    tag = Tag.objects.create(label="x")
    when = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)

    result = tasks.echo.enqueue(author, when, tag=tag, delay=timedelta(seconds=3))

    expected_args = [
        {"__sq__": "model", "v": ["testapp.author", author.pk]},
        {"__sq__": "datetime", "v": "2026-11-25T08:00:00+00:00"},
    ]
    assert result.args == expected_args
    assert result.kwargs["tag"] == {"__sq__": "model", "v": ["testapp.tag", {"__sq__": "uuid", "v": str(tag.pk)}]}
    fetched = tasks.echo.get_result(result.id)
    assert fetched.args == result.args
    assert fetched.kwargs == result.kwargs


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({1, 2},), {}, r"args\[0\] has unsupported type builtins.set"),
        ((), {"blob": b"x"}, r"kwargs\['blob'\] has unsupported type builtins.bytes"),
        (({2: "two"},), {}, r"args\[0\] has a key 2 of type int"),
        ((float("nan"),), {}, r"args\[0\] is nan"),
        ((), {"who": Author(name="unsaved")}, r"kwargs\['who'\] is an unsaved testapp.Author instance"),
        (([timezone.now(), object()],), {}, r"args\[0\]\[1\] has unsupported type builtins.object"),
    ],
)
def test_bad_arguments_fail_at_enqueue_and_write_nothing(args, kwargs, message):
    with pytest.raises(SerializationError, match=message):
        tasks.echo.enqueue(*args, **kwargs)
    assert_nothing_written()


def test_rolling_back_the_callers_transaction_removes_the_job():
    kept = tasks.add.enqueue(0, 0)
    with pytest.raises(RuntimeError):
        with transaction.atomic(using=queue_connection.alias):
            tasks.add.enqueue(1, 2)
            assert Job.objects.count() == 2
            raise RuntimeError("the view failed")
    assert list(Job.objects.values_list("pk", flat=True)) == [job_pk(kept.id)]
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(kept.id)]


@fast_sql_only
def test_enqueue_writes_in_at_most_two_statements(capture_queries):
    with capture_queries() as queries:
        tasks.add.enqueue(1, 2)
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # PostgreSQL: one statement inserting both rows; SQLite: two inserts in one transaction.
    assert statements == (["WITH"] if queries.connection.vendor == "postgresql" else ["INSERT", "INSERT"])


def test_aenqueue_works_from_async_code():
    async def view():
        result = await tasks.add.aenqueue(2, 3)
        return result, await tasks.add.aget_result(result.id)

    result, fetched = async_to_sync(view)()
    assert fetched.args == [2, 3]
    assert Job.objects.filter(pk=job_pk(result.id)).exists()
