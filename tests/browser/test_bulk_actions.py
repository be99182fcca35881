"""Retry all, discard all and cancel all: the filters they apply, their confirmation, the database afterwards."""

import pytest

from steady_queue.models import FailedExecution, Job, ReadyExecution
from steady_queue.models.job import job_pk
from tests.testapp import tasks

from .pages import expect, expect_message, row, rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def failures(run_tasks):
    on_default = tasks.fail.enqueue_many([("payment provider timed out",), ("card declined",)])
    on_low = tasks.fail.using(queue_name="low").enqueue("report template missing")
    run_tasks()
    return on_default, on_low


def test_retry_all_retries_the_failures_of_the_queue_clicked(operator, console_url, failures, screenshot):
    on_default, on_low = failures
    page = operator
    page.goto(f"{console_url}tasks/failed/")
    # Clicking a queue in the list filters by it.
    row(page, "report template missing").get_by_role("link", name="low").click()
    expect(page.locator("#sq-queue")).to_have_value("low")
    expect(rows(page)).to_have_count(1)
    page.get_by_role("link", name="Retry all…").click()
    expect(page.locator("#content")).to_contain_text("1 failed task(s) on queue low match")
    assert FailedExecution.objects.count() == 3  # asking changed nothing
    screenshot(page, "confirm-retry-all")
    page.get_by_role("button", name="Yes, retry all").click()
    expect_message(page, "1 task(s) put back in their queues.")
    expect(page.locator("#content")).to_contain_text("No failed tasks match the filters.")
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(on_low.id)]
    assert sorted(FailedExecution.objects.values_list("job_id", flat=True)) == sorted(
        job_pk(result.id) for result in on_default
    )


def test_discard_all_can_be_called_off_then_deletes_every_failure(operator, console_url, failures):
    page = operator
    page.goto(f"{console_url}tasks/failed/")
    page.get_by_role("link", name="Discard all…").click()
    expect(page.locator("#content")).to_contain_text("3 failed task(s) match")
    expect(page.locator("#content")).to_contain_text("deleted for good")
    page.get_by_role("link", name="No, take me back").click()
    expect(rows(page)).to_have_count(3)
    assert FailedExecution.objects.count() == 3

    page.get_by_role("link", name="Discard all…").click()
    page.get_by_role("button", name="Yes, discard all").click()
    expect_message(page, "3 task(s) deleted for good.")
    assert not Job.objects.exists()


def test_cancel_all_cancels_the_ready_tasks_of_the_task_typed_in_the_filter(operator, console_url):
    adds = tasks.add.enqueue_many([(1, 1), (2, 2)])
    kept = tasks.send_email.enqueue("ada@example.com")
    page = operator
    page.goto(f"{console_url}tasks/ready/")
    page.fill("#sq-task", "tests.testapp.tasks.add")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(2)
    page.get_by_role("link", name="Cancel all…").click()
    expect(page.locator("#content")).to_contain_text("2 ready task(s) of tests.testapp.tasks.add match")
    page.get_by_role("button", name="Yes, cancel all").click()
    expect_message(page, "2 task(s) cancelled")
    assert list(ReadyExecution.objects.values_list("job_id", flat=True)) == [job_pk(kept.id)]
    assert {job.pk for job in Job.objects.filter(cancelled_at__isnull=False)} == {job_pk(r.id) for r in adds}
