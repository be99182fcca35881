"""Running claimed jobs in-process, against the real database: outcomes, context, signals."""

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.signals import task_finished, task_started

from steady_queue.models import ClaimedExecution, FailedExecution, Job
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from steady_queue.worker.attempt import Attempt
from tests.testapp import tasks
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


def run_one_by_one(worker_name="worker-test", after_claim=None):
    """Without a finisher: each success recorded by Attempt.record_success, as the finisher's fallback does."""
    process = register("worker", worker_name, 1, "host")
    jobs = claim(["*"], 100, process.pk)
    if after_claim is not None:
        after_claim(jobs)
    for job in jobs:
        Attempt(job, process_id=process.pk, worker_name=process.name, preserve_finished_jobs=True).perform()


@pytest.fixture(params=["by the finisher", "one by one"])
def run_either_way(request, run_tasks):
    """For the tests that hold for both ways a success is recorded."""
    return run_tasks if request.param == "by the finisher" else run_one_by_one


def result_of(enqueued):
    return default_task_backend.get_result(enqueued.id)


def test_a_successful_task_stores_its_return_value(run_either_way):
    enqueued = tasks.add.enqueue(2, 3)
    run_either_way()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.worker_ids == ["worker-test"]
    assert result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert not ClaimedExecution.objects.exists()


def test_a_failing_task_records_class_message_and_traceback(run_tasks):
    enqueued = tasks.fail.enqueue("boom")
    run_tasks()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is ValueError
    assert "raise ValueError(message)" in error.traceback and error.traceback.endswith("ValueError: boom\n")
    assert Job.objects.get(pk=job_pk(enqueued.id)).errors[0]["message"] == "boom"
    assert FailedExecution.objects.filter(job_id=job_pk(enqueued.id)).exists()


FAILURES = [
    ("sys.exit()", tasks.exit_task, SystemExit, "SystemExit: 3"),
    (
        "a return value that is not JSON",
        tasks.return_set,
        TypeError,
        "The return value of tests.testapp.tasks.return_set cannot be stored as JSON",
    ),
    ("a return value with a NUL character", tasks.return_nul, TypeError, "contains a NUL character"),
    ("an error message with a NUL character", tasks.fail_with_nul, ValueError, "bad\\x00value"),
]


@pytest.mark.parametrize(("what", "task", "exception_class", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_what_cannot_be_stored_or_ends_the_task_early_is_its_failure(run_tasks, what, task, exception_class, message):
    enqueued = task.enqueue()
    run_tasks()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is exception_class
    assert message in error.traceback
    assert not ClaimedExecution.objects.exists()


def test_model_arguments_are_loaded_again(run_tasks):
    author = Author.objects.create(name="Ada")
    enqueued = tasks.greet.enqueue(author)
    Author.objects.filter(pk=author.pk).update(name="Ada Lovelace")
    run_tasks()
    assert result_of(enqueued).return_value == "hello Ada Lovelace"


def test_takes_context_gets_the_attempt_and_result(run_tasks):
    enqueued = tasks.report_attempt.enqueue()
    run_tasks()
    assert result_of(enqueued).return_value == {"attempt": 1, "id": enqueued.id}


def test_async_tasks_run(run_tasks):
    enqueued = tasks.async_add.enqueue(20, 22)
    run_tasks()
    assert result_of(enqueued).return_value == 42


def test_without_preserve_finished_jobs_the_job_is_deleted(run_tasks):
    ok = tasks.add.enqueue(1, 1)
    failed = tasks.fail.enqueue("kept")
    run_tasks(preserve=False)
    assert not Job.objects.filter(pk=job_pk(ok.id)).exists()
    assert Job.objects.filter(pk=job_pk(failed.id)).exists()


def test_started_and_finished_signals_carry_the_result(run_tasks):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.status, list(task_result.worker_ids)))

    def on_finished(sender, task_result, **kwargs):
        import sys

        seen.append(("finished", task_result.status, sys.exc_info()[0]))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        # One run each: a success is announced once the finisher has recorded it, which may be
        # after the next task started.
        tasks.add.enqueue(1, 2)
        run_tasks()
        tasks.fail.enqueue("x")
        run_tasks()
    finally:
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    assert seen == [
        ("started", TaskResultStatus.RUNNING, ["worker-test"]),
        ("finished", TaskResultStatus.SUCCESSFUL, None),
        ("started", TaskResultStatus.RUNNING, ["worker-test"]),
        # Sent from inside the except block, so receivers (and Django's logger) see the exception.
        ("finished", TaskResultStatus.FAILED, ValueError),
    ]


def test_an_outcome_is_not_recorded_once_the_claim_is_gone(run_either_way, caplog):
    enqueued = tasks.add.enqueue(1, 1)

    def lose_the_claims(jobs):
        # As pruning would, with its own failure.
        ClaimedExecution.objects.filter(job_id__in=[job.pk for job in jobs]).delete()

    run_either_way(worker_name="worker-other", after_claim=lose_the_claims)
    assert Job.objects.get(pk=job_pk(enqueued.id)).finished_at is None
    assert f"Job {job_pk(enqueued.id)} ended after its claim was taken away" in caplog.text


def test_a_failing_task_started_receiver_fails_the_task_instead_of_leaving_it_claimed(run_tasks):
    def broken_receiver(sender, task_result, **kwargs):
        raise RuntimeError("receiver bug")

    task_started.connect(broken_receiver)
    try:
        enqueued = tasks.add.enqueue(1, 1)
        run_tasks()
    finally:
        task_started.disconnect(broken_receiver)
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert "receiver bug" in result.errors[0].traceback
