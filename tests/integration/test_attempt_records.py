"""What a failed attempt that will be retried leaves in the database, and what the admin shows of it."""

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.urls import reverse
from django.utils import timezone

from steady_queue.models import (
    BlockedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.job import job_pk
from tests.testapp import attempt_tasks

pytestmark = pytest.mark.django_db


def test_a_failed_attempt_with_attempts_left_is_scheduled_in_the_same_transaction(run_tasks):
    before = timezone.now()
    enqueued = attempt_tasks.flaky.enqueue("once", 1)
    run_tasks()
    job = Job.objects.get(pk=job_pk(enqueued.id))
    scheduled = ScheduledExecution.objects.get(job=job)
    assert not FailedExecution.objects.exists()
    assert job.finished_at is None and len(job.errors) == 1 and job.worker_ids == ["worker-test"]
    # quick_backoff: 0.3 s after the failure.
    assert before < scheduled.scheduled_at == job.scheduled_at < timezone.now() + timezone.timedelta(seconds=1)
    result = default_task_backend.get_result(enqueued.id)
    assert result.status == TaskResultStatus.READY and result.task.run_after == job.scheduled_at
    assert result.attempts == 1


def test_the_last_attempt_fails_for_good(run_tasks):
    enqueued = attempt_tasks.gives_up_on_value_errors.enqueue("value")
    run_tasks()
    assert FailedExecution.objects.filter(job_id=job_pk(enqueued.id)).exists()
    assert not ScheduledExecution.objects.exists()
    assert default_task_backend.get_result(enqueued.id).status == TaskResultStatus.FAILED


def test_a_limited_task_frees_its_slot_between_attempts(run_tasks):
    first = attempt_tasks.limited_flaky.enqueue("first")
    second = attempt_tasks.limited_flaky.enqueue("second")
    assert BlockedExecution.objects.filter(job_id=job_pk(second.id)).exists()
    run_tasks()
    # The first failed and waits for its next attempt without the slot: the second has it.
    assert ScheduledExecution.objects.filter(job_id=job_pk(first.id)).exists()
    assert ReadyExecution.objects.filter(job_id=job_pk(second.id)).exists()
    assert Semaphore.objects.get().value == 0


def test_the_admin_shows_attempts_and_the_next_one(admin_client, run_tasks):
    enqueued = attempt_tasks.flaky.enqueue("admin", 1)
    run_tasks()
    page = admin_client.get(reverse("admin:steady_queue_job_change", args=[job_pk(enqueued.id)]))
    assert b"1 of 3" in page.content and b"Next attempt" in page.content
    assert b"ConnectionError: attempt 1 of admin failed" in page.content
    listing = admin_client.get(reverse("admin:steady_queue_job_changelist"))
    assert b"1 of 3" in listing.content


def test_a_task_asked_to_stop_is_not_retried(run_tasks):
    from steady_queue.cancellation import cancel

    enqueued = attempt_tasks.flaky.enqueue("asked", 1)

    def cancel_while_it_runs(jobs):
        assert cancel(enqueued.id) is False  # running: only a request

    run_tasks(after_claim=cancel_while_it_runs)
    assert not ScheduledExecution.objects.exists()
    assert default_task_backend.get_result(enqueued.id).status == TaskResultStatus.FAILED
