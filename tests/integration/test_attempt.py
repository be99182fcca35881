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


@pytest.fixture
def run():
    process = register("worker", "worker-test", 1, "host")

    def run_all(preserve=True):
        for job in claim(["*"], 100, process.pk):
            Attempt(job, process_id=process.pk, worker_name=process.name, preserve_finished_jobs=preserve).perform()

    return run_all


def result_of(enqueued):
    return default_task_backend.get_result(enqueued.id)


def test_a_successful_task_stores_its_return_value(run):
    enqueued = tasks.add.enqueue(2, 3)
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.worker_ids == ["worker-test"]
    assert result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert not ClaimedExecution.objects.exists()


def test_a_failing_task_records_class_message_and_traceback(run):
    enqueued = tasks.fail.enqueue("boom")
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is ValueError
    assert "raise ValueError(message)" in error.traceback and error.traceback.endswith("ValueError: boom\n")
    assert Job.objects.get(pk=job_pk(enqueued.id)).errors[0]["message"] == "boom"
    assert FailedExecution.objects.filter(job_id=job_pk(enqueued.id)).exists()


def test_sys_exit_in_a_task_is_a_failure(run):
    enqueued = tasks.exit_task.enqueue()
    run()
    assert result_of(enqueued).errors[0].exception_class is SystemExit


def test_a_return_value_that_is_not_json_fails_the_task(run):
    enqueued = tasks.return_set.enqueue()
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError
    assert "The return value of tests.testapp.tasks.return_set cannot be stored as JSON" in result.errors[0].traceback


def test_model_arguments_are_loaded_again(run):
    author = Author.objects.create(name="Ada")
    enqueued = tasks.greet.enqueue(author)
    Author.objects.filter(pk=author.pk).update(name="Ada Lovelace")
    run()
    assert result_of(enqueued).return_value == "hello Ada Lovelace"


def test_a_deleted_model_argument_fails_with_deserialization_error(run):
    author = Author.objects.create(name="Gone")
    enqueued = tasks.greet.enqueue(author)
    after = tasks.add.enqueue(1, 1)
    author.delete()
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == "steady_queue.arguments.DeserializationError"
    assert "testapp.Author with primary key" in result.errors[0].traceback
    # The worker carries on with the next task.
    assert result_of(after).status == TaskResultStatus.SUCCESSFUL


def test_an_unimportable_task_fails_visibly(run):
    enqueued = tasks.add.enqueue(1, 1)
    Job.objects.filter(pk=job_pk(enqueued.id)).update(task_path="tests.testapp.gone.task")
    run()
    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert "can no longer be imported" in result.errors[0].traceback


def test_takes_context_gets_the_attempt_and_result(run):
    enqueued = tasks.report_attempt.enqueue()
    run()
    assert result_of(enqueued).return_value == {"attempt": 1, "id": enqueued.id}


def test_async_tasks_run(run):
    enqueued = tasks.async_add.enqueue(20, 22)
    run()
    assert result_of(enqueued).return_value == 42


def test_without_preserve_finished_jobs_the_job_is_deleted(run):
    ok = tasks.add.enqueue(1, 1)
    failed = tasks.fail.enqueue("kept")
    run(preserve=False)
    assert not Job.objects.filter(pk=job_pk(ok.id)).exists()
    assert Job.objects.filter(pk=job_pk(failed.id)).exists()


def test_started_and_finished_signals_carry_the_result(run):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.status, list(task_result.worker_ids)))

    def on_finished(sender, task_result, **kwargs):
        import sys

        seen.append(("finished", task_result.status, sys.exc_info()[0]))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        tasks.add.enqueue(1, 2)
        tasks.fail.enqueue("x")
        run()
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


def test_an_outcome_is_not_recorded_once_the_claim_is_gone(run):
    process = register("worker", "worker-other", 2, "host")
    enqueued = tasks.add.enqueue(1, 1)
    (job,) = claim(["*"], 1, process.pk)
    ClaimedExecution.objects.filter(job_id=job.pk).delete()  # as pruning would, with its own failure
    Attempt(job, process_id=process.pk, worker_name=process.name, preserve_finished_jobs=True).perform()
    assert Job.objects.get(pk=job_pk(enqueued.id)).finished_at is None


def test_a_module_failing_at_import_with_any_error_fails_the_task(run):
    enqueued = tasks.add.enqueue(1, 1)
    Job.objects.filter(pk=job_pk(enqueued.id)).update(task_path="tests.testapp.broken_tasks.task")
    run()
    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert "RuntimeError: this module fails at import" in result.errors[0].traceback
    assert not ClaimedExecution.objects.exists()


def test_a_failing_task_started_receiver_fails_the_task_instead_of_leaving_it_claimed(run):
    def broken_receiver(sender, task_result, **kwargs):
        raise RuntimeError("receiver bug")

    task_started.connect(broken_receiver)
    try:
        enqueued = tasks.add.enqueue(1, 1)
        run()
    finally:
        task_started.disconnect(broken_receiver)
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert "receiver bug" in result.errors[0].traceback


def test_a_return_value_with_a_nul_character_fails_clearly(run):
    enqueued = tasks.return_nul.enqueue()
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert "contains a NUL character" in result.errors[0].traceback


def test_an_error_message_with_a_nul_character_is_stored(run):
    enqueued = tasks.fail_with_nul.enqueue()
    run()
    result = result_of(enqueued)
    assert result.status == TaskResultStatus.FAILED
    assert "bad\\x00value" in result.errors[0].traceback
