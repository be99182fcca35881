from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
from django.utils import timezone

from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    Process,
    ReadyExecution,
    ScheduledExecution,
)
from steady_queue.models.job import job_pk
from tests.databases import queue_connection
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def move(job, state_model, **fields):
    """Put a job in another state, as the runtime would: one state row at a time."""
    for model in (ReadyExecution, ScheduledExecution, BlockedExecution, ClaimedExecution, FailedExecution):
        model.objects.filter(job=job).delete()
    if state_model is not None:
        state_model.objects.create(job=job, **fields)


def worker_process(name="worker-1"):
    return Process.objects.create(kind="worker", name=name, pid=1234, hostname="host")


def test_a_new_job_reads_back_ready():
    enqueued = tasks.add.enqueue(1, 2)
    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.READY
    assert result.id == enqueued.id
    assert result.task.func is tasks.add.func
    assert result.args == [1, 2]
    assert result.enqueued_at == enqueued.enqueued_at
    assert result.started_at is None and result.finished_at is None and result.last_attempted_at is None
    assert result.errors == [] and result.worker_ids == []
    with pytest.raises(ValueError, match="Task has not finished yet"):
        _ = result.return_value  # reading the property is what must raise


def test_scheduled_and_blocked_jobs_read_as_ready():
    scheduled = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 2)
    blocked = tasks.add.enqueue(3, 4)
    job = Job.objects.get(pk=job_pk(blocked.id))
    move(job, BlockedExecution, queue_name="default", concurrency_key="k", expires_at=timezone.now())

    assert tasks.add.get_result(scheduled.id).status == TaskResultStatus.READY
    assert tasks.add.get_result(scheduled.id).task.run_after == ScheduledExecution.objects.get().scheduled_at
    assert tasks.add.get_result(blocked.id).status == TaskResultStatus.READY


def test_a_claimed_job_reads_running_with_its_worker():
    enqueued = tasks.add.enqueue(1, 2)
    job = Job.objects.get(pk=job_pk(enqueued.id))
    process = worker_process()
    move(job, ClaimedExecution, process=process)
    claim = ClaimedExecution.objects.get()

    result = tasks.add.get_result(enqueued.id)
    assert result.status == TaskResultStatus.RUNNING
    assert result.worker_ids == ["worker-1"]
    assert result.attempts == 1
    assert result.started_at == claim.created_at == result.last_attempted_at


def test_a_finished_job_reads_successful_with_its_return_value():
    enqueued = tasks.add.enqueue(1, 2)
    started = timezone.now()
    finished = started + timedelta(seconds=1)
    move(Job.objects.get(pk=job_pk(enqueued.id)), None)
    Job.objects.filter(pk=job_pk(enqueued.id)).update(
        started_at=started,
        last_attempted_at=started,
        finished_at=finished,
        worker_ids=["worker-1"],
        return_value={"sum": 3},
    )
    result = tasks.add.get_result(enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"sum": 3}
    assert (result.started_at, result.finished_at, result.last_attempted_at) == (started, finished, started)
    assert result.is_finished


def test_a_failed_job_reads_failed_with_every_error():
    enqueued = tasks.add.enqueue(1, 2)
    errors = [
        {"exception_class_path": "builtins.ValueError", "message": "first", "traceback": "Traceback...\nValueError"},
        {"exception_class_path": "builtins.KeyError", "message": "second", "traceback": "Traceback...\nKeyError"},
    ]
    Job.objects.filter(pk=job_pk(enqueued.id)).update(
        errors=errors, worker_ids=["w1", "w2"], finished_at=timezone.now()
    )
    move(Job.objects.get(pk=job_pk(enqueued.id)), FailedExecution)

    result = tasks.add.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert [e.exception_class for e in result.errors] == [ValueError, KeyError]
    assert result.errors[1].traceback == "Traceback...\nKeyError"
    assert result.attempts == 2
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value  # reading the property is what must raise


def test_refresh_updates_a_result_in_place():
    result = tasks.add.enqueue(1, 2)
    move(Job.objects.get(pk=job_pk(result.id)), ClaimedExecution, process=worker_process())
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING
    assert result.worker_ids == ["worker-1"]


@pytest.mark.parametrize("bad_id", ["999999", "not-a-number", "", "1.5"])
def test_unknown_ids_raise_task_result_does_not_exist(bad_id):
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(bad_id)


def test_a_result_of_another_task_is_a_mismatch():
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(TaskResultMismatch):
        tasks.send_email.get_result(result.id)


def test_a_result_survives_its_task_module_disappearing():
    result = tasks.add.enqueue(1, 2)
    Job.objects.filter(pk=job_pk(result.id)).update(task_path="tests.testapp.removed_module.old_task")
    fetched = default_task_backend.get_result(result.id)
    assert fetched.status == TaskResultStatus.READY
    assert fetched.task.module_path == "tests.testapp.removed_module.old_task"
    with pytest.raises(ImportError, match="can no longer be imported"):
        fetched.task.call()


def test_get_result_is_one_query(django_assert_num_queries):
    result = tasks.add.enqueue(1, 2)
    with django_assert_num_queries(1, connection=queue_connection):
        default_task_backend.get_result(result.id)
