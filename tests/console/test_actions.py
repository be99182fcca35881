"""Each console action, posted as a browser would, and the database afterwards."""

from datetime import timedelta

import pytest
from django.urls import reverse

from steady_queue.console.actions import BULK_BATCH
from steady_queue.models import (
    BlockedExecution,
    FailedExecution,
    Job,
    Pause,
    ReadyExecution,
    RecurringExecution,
    RecurringTask,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.job import job_pk
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def act(client, result, action, **data):
    return client.post(reverse("steady_queue_console:job-action", args=[job_pk(result.id), action]), data)


@pytest.fixture
def failed(run_tasks):
    result = tasks.fail.enqueue("console")
    run_tasks()
    return result


def test_retry_puts_a_failed_task_back_in_its_queue(admin_client, failed):
    response = act(admin_client, failed, "retry")
    assert response.status_code == 302
    assert ReadyExecution.objects.filter(job_id=job_pk(failed.id)).exists()
    assert not FailedExecution.objects.exists()


def test_discard_asks_first_and_then_deletes_the_failed_task(admin_client, failed):
    url = reverse("steady_queue_console:job-action", args=[job_pk(failed.id), "discard"])
    confirmation = admin_client.get(url)
    assert confirmation.status_code == 200 and b"deleted for good" in confirmation.content
    assert Job.objects.filter(pk=job_pk(failed.id)).exists()  # asking deleted nothing
    response = admin_client.post(url)
    assert response.url == reverse("steady_queue_console:jobs", args=["failed"])
    assert not Job.objects.filter(pk=job_pk(failed.id)).exists()


def test_run_now_makes_a_scheduled_task_ready(admin_client):
    result = tasks.add.using(run_after=timedelta(hours=1)).enqueue(1, 2)
    act(admin_client, result, "run-now")
    assert not ScheduledExecution.objects.exists()
    assert ReadyExecution.objects.filter(job_id=job_pk(result.id)).exists()
    job = Job.objects.get(pk=job_pk(result.id))
    assert job.scheduled_at <= job.readyexecution.created_at


def test_run_now_of_a_scheduled_limited_task_still_queues_for_a_slot(admin_client):
    tasks.one_at_a_time.enqueue("k", "running")
    later = tasks.one_at_a_time.using(run_after=timedelta(hours=1)).enqueue("k", "later")
    act(admin_client, later, "run-now")
    assert BlockedExecution.objects.filter(job_id=job_pk(later.id)).exists()


def test_discard_deletes_a_scheduled_task(admin_client):
    result = tasks.add.using(run_after=timedelta(hours=1)).enqueue(1, 2)
    act(admin_client, result, "discard")
    assert not Job.objects.exists()


def test_run_now_of_a_blocked_task_runs_it_over_the_limit_and_the_next_slot_pays_for_it(admin_client, run_tasks):
    first = tasks.one_at_a_time.enqueue("k", "first")
    second = tasks.one_at_a_time.enqueue("k", "second")
    third = tasks.one_at_a_time.enqueue("k", "third")
    act(admin_client, second, "run-now")
    assert set(ReadyExecution.objects.values_list("job_id", flat=True)) == {job_pk(first.id), job_pk(second.id)}
    assert Semaphore.objects.get(key__endswith="k").value == -1
    # The first to end pays the debt: the third stays blocked until the second ends too.
    run_tasks(limit=1)
    assert BlockedExecution.objects.filter(job_id=job_pk(third.id)).exists()
    run_tasks(limit=1)
    assert ReadyExecution.objects.filter(job_id=job_pk(third.id)).exists()


def test_cancel_takes_a_ready_task_out(admin_client):
    result = tasks.add.enqueue(1, 2)
    act(admin_client, result, "cancel")
    job = Job.objects.get(pk=job_pk(result.id))
    assert job.cancelled_at is not None and job.finished_at == job.cancelled_at
    assert not ReadyExecution.objects.exists()


@pytest.mark.parametrize("state", ["scheduled", "blocked"])
def test_cancel_takes_a_scheduled_or_blocked_task_out(admin_client, state):
    if state == "scheduled":
        result = tasks.add.using(run_after=timedelta(hours=1)).enqueue(1, 2)
    else:
        tasks.one_at_a_time.enqueue("k", "holder")
        result = tasks.one_at_a_time.enqueue("k", "waiting")
    act(admin_client, result, "cancel")
    assert Job.objects.get(pk=job_pk(result.id)).cancelled_at is not None
    assert not ScheduledExecution.objects.exists() and not BlockedExecution.objects.exists()


def test_cancel_of_a_running_task_records_the_request(admin_client, run_tasks):
    result = tasks.add.enqueue(1, 2)
    run_tasks(after_claim=lambda jobs: act(admin_client, result, "cancel"))
    assert Job.objects.get(pk=job_pk(result.id)).cancelled_at is not None


def test_an_action_that_does_not_fit_the_state_changes_nothing(admin_client):
    result = tasks.add.enqueue(1, 2)
    response = act(admin_client, result, "retry")
    assert response.status_code == 302
    assert ReadyExecution.objects.filter(job_id=job_pk(result.id)).exists()


def test_pause_and_resume_a_listed_queue(admin_client):
    # With a backend that takes any queue name, the queues listed are those with tasks (and the paused).
    tasks.send_email.enqueue("ada@example.com")
    admin_client.post(reverse("steady_queue_console:pause"), {"queue": "email"})
    assert list(Pause.objects.values_list("queue_name", flat=True)) == ["email"]
    admin_client.post(reverse("steady_queue_console:resume"), {"queue": "email"})
    assert not Pause.objects.exists()


def test_a_queue_nobody_knows_cannot_be_paused(admin_client):
    response = admin_client.post(reverse("steady_queue_console:pause"), {"queue": "emial"})
    assert response.status_code == 400
    assert not Pause.objects.exists()


def test_run_now_of_a_recurring_task_enqueues_it_without_a_tick(admin_client):
    recurring = RecurringTask.objects.create(
        key="adder", schedule="0 3 * * *", task_path="tests.testapp.tasks.add",
        arguments={"args": [2, 3], "kwargs": {}}, queue_name="reports", priority=5,
    )
    admin_client.post(reverse("steady_queue_console:recurring-run", args=[recurring.pk]))
    job = Job.objects.get()
    assert (job.task_path, job.arguments["args"], job.queue_name, job.priority) == (
        "tests.testapp.tasks.add", [2, 3], "reports", 5
    )
    assert ReadyExecution.objects.filter(job_id=job.pk).exists()
    assert not RecurringExecution.objects.exists()


def bulk(client, state, action, method="post", **filters):
    url = reverse("steady_queue_console:bulk", args=[state, action])
    return getattr(client, method)(url, filters)


def test_retry_all_retries_the_filtered_failures_only(admin_client, run_tasks):
    tasks.fail.enqueue_many([("a",), ("b",)])
    other = tasks.fail.using(queue_name="low").enqueue("c")
    run_tasks()
    confirmation = bulk(admin_client, "failed", "retry", method="get", queue="default")
    assert confirmation.status_code == 200 and str(confirmation.context["count"]) == "2"
    assert FailedExecution.objects.count() == 3  # asking changed nothing
    bulk(admin_client, "failed", "retry", queue="default")
    assert list(FailedExecution.objects.values_list("job_id", flat=True)) == [job_pk(other.id)]
    assert ReadyExecution.objects.count() == 2


def test_discard_all_works_in_batches_and_says_how_many_remain(admin_client, run_tasks):
    from django.contrib.messages import get_messages

    tasks.fail.enqueue_many([(str(i),) for i in range(BULK_BATCH + 5)])
    run_tasks(limit=BULK_BATCH + 5)
    response = bulk(admin_client, "failed", "discard")
    assert FailedExecution.objects.count() == 5
    assert "5 more" in [str(m) for m in get_messages(response.wsgi_request)][0]
    bulk(admin_client, "failed", "discard")
    assert not Job.objects.exists()


def test_cancel_all_cancels_the_waiting_tasks_of_the_filter(admin_client):
    tasks.add.enqueue_many([(1, 1), (2, 2)])
    kept = tasks.send_email.enqueue("ada@example.com")
    bulk(admin_client, "ready", "cancel", task="tests.testapp.tasks.add")
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(kept.id)]
    assert Job.objects.filter(cancelled_at__isnull=False).count() == 2
