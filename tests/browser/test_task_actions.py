"""The actions on one task, clicked on its page or in its list, and the database afterwards."""

from datetime import timedelta

import pytest

from steady_queue.cancellation import cancel_requested
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.job import job_pk
from steady_queue.models.process import register
from steady_queue.models.ready_execution import claim
from tests.testapp import tasks

from .pages import expect, expect_message, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_task(operator, console_url):
    """``open_task(result)``: the operator's page, on the task's page."""

    def open_(result):
        operator.goto(f"{console_url}task/{job_pk(result.id)}/")
        expect(operator.locator("#content h1")).to_contain_text(f"#{job_pk(result.id)}")
        return operator

    return open_


def state_badge(page):
    return page.locator("#content tr", has_text="State").locator(".sq-badge").first


@pytest.fixture
def failed(run_tasks):
    result = tasks.fail.enqueue("card declined")
    run_tasks()
    return result


def test_retry_puts_a_failed_task_back_in_its_queue(open_task, failed):
    page = open_task(failed)
    page.get_by_role("button", name="Retry").click()
    expect_message(page, "The task is back in its queue.")
    expect(state_badge(page)).to_have_text("Ready")
    assert ReadyExecution.objects.filter(job_id=job_pk(failed.id)).exists()
    assert not FailedExecution.objects.exists()


def test_discard_asks_first_and_deletes_only_once_confirmed(open_task, failed, screenshot):
    page = open_task(failed)
    page.get_by_role("link", name="Discard…").click()
    expect(page.locator("#content h1")).to_have_text(f"Discard tests.testapp.tasks.fail #{job_pk(failed.id)}?")
    expect(page.locator("#content")).to_contain_text("will be deleted for good")
    screenshot(page, "confirm-discard")
    page.get_by_role("link", name="No, take me back").click()
    expect(state_badge(page)).to_have_text("Failed")
    assert FailedExecution.objects.filter(job_id=job_pk(failed.id)).exists()

    page.get_by_role("link", name="Discard…").click()
    page.get_by_role("button", name="Yes, discard it").click()
    expect_message(page, "The failed task was deleted.")
    expect(page.locator("#content h1")).to_have_text("Failed tasks")
    assert not Job.objects.filter(pk=job_pk(failed.id)).exists()


def test_run_now_makes_a_scheduled_task_ready(open_task):
    result = tasks.add.using(run_after=timedelta(hours=2)).enqueue(1, 2)
    page = open_task(result)
    page.get_by_role("button", name="Run now").click()
    expect_message(page, "The task is due now")
    expect(state_badge(page)).to_have_text("Ready")
    assert not ScheduledExecution.objects.exists()
    assert ReadyExecution.objects.filter(job_id=job_pk(result.id)).exists()


def test_discard_deletes_a_scheduled_task_once_confirmed(open_task):
    result = tasks.add.using(run_after=timedelta(hours=2)).enqueue(1, 2)
    page = open_task(result)
    page.get_by_role("link", name="Discard…").click()
    page.get_by_role("button", name="Yes, discard it").click()
    expect_message(page, "The scheduled task was deleted.")
    assert not Job.objects.exists()


def test_run_now_makes_a_blocked_task_ready_over_its_limit(open_task):
    holder = tasks.one_at_a_time.enqueue("invoice-42", "first")
    blocked = tasks.one_at_a_time.enqueue("invoice-42", "second")
    page = open_task(blocked)
    page.get_by_role("button", name="Run now").click()
    expect_message(page, "The task is ready, over its concurrency limit.")
    expect(state_badge(page)).to_have_text("Ready")
    ready = set(ReadyExecution.objects.values_list("job_id", flat=True))
    assert ready == {job_pk(holder.id), job_pk(blocked.id)}
    assert not BlockedExecution.objects.exists()
    # The slot it took is owed: the next slot handed back pays it.
    assert Semaphore.objects.get(key__endswith="invoice-42").value == -1


def test_cancel_in_the_ready_list_cancels_that_task_only(operator, console_url):
    kept, cancelled = tasks.add.enqueue_many([(1, 1), (2, 2)])
    operator.goto(f"{console_url}tasks/ready/")
    row(operator, f"#{job_pk(cancelled.id)}").get_by_role("button", name="Cancel").click()
    expect_message(operator, "The task was cancelled: it will not run.")
    # Back on the list it was clicked in, without the task.
    expect(operator.locator("#content h1")).to_have_text("Ready tasks")
    expect(row(operator, f"#{job_pk(cancelled.id)}")).to_have_count(0)
    assert Job.objects.get(pk=job_pk(cancelled.id)).cancelled_at is not None
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(kept.id)]


def test_cancel_on_the_page_of_a_blocked_task(open_task):
    tasks.one_at_a_time.enqueue("invoice-42", "first")
    blocked = tasks.one_at_a_time.enqueue("invoice-42", "second")
    page = open_task(blocked)
    page.get_by_role("button", name="Cancel").click()
    expect_message(page, "The task was cancelled")
    expect(state_badge(page)).to_have_text("Cancelled")
    assert Job.objects.get(pk=job_pk(blocked.id)).cancelled_at is not None
    assert not BlockedExecution.objects.exists()


def test_request_cancel_of_a_running_task_records_the_request(open_task):
    running = tasks.add.using(queue_name="reports").enqueue(1, 2)
    worker = register("worker", "worker-1", 4242, "app-1.example.internal", metadata={"queues": ["reports"]})
    claim(["reports"], 1, worker.pk)
    page = open_task(running)
    page.get_by_role("button", name="Request cancel").click()
    expect_message(page, "The task was asked to stop")
    # Still running: a running task is asked, not stopped.
    expect(state_badge(page)).to_have_text("In progress")
    expect(page.locator("#content")).to_contain_text("cancel requested")
    assert ClaimedExecution.objects.filter(job_id=job_pk(running.id)).exists()
    assert cancel_requested(running.id)
