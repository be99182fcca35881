"""Pausing and resuming a queue, and running a recurring task now, from their pages."""

import pytest

from steady_queue.models import Job, Pause, ReadyExecution, RecurringExecution, RecurringTask
from tests.testapp import tasks

from .pages import expect, expect_message, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pause_then_resume_a_queue(operator, console_url):
    tasks.send_email.enqueue("ada@example.com")
    page = operator
    page.goto(f"{console_url}queues/")
    email = row(page, "email")
    email.get_by_role("button", name="Pause").click()
    expect_message(page, "Queue email paused")
    expect(email.locator(".sq-badge")).to_have_text("paused")
    assert list(Pause.objects.values_list("queue_name", flat=True)) == ["email"]

    email.get_by_role("button", name="Resume").click()
    expect_message(page, "Queue email resumed.")
    expect(email.locator(".sq-badge")).to_have_text("running")
    assert not Pause.objects.exists()


def test_run_now_enqueues_a_recurring_task_and_links_to_it(operator, console_url):
    RecurringTask.objects.create(
        key="nightly-totals", schedule="0 3 * * *", task_path="tests.testapp.tasks.add",
        arguments={"args": [40, 2], "kwargs": {}}, queue_name="reports", priority=5,
    )
    page = operator
    page.goto(f"{console_url}recurring/")
    row(page, "nightly-totals").get_by_role("button", name="Run now").click()
    expect_message(page, "nightly-totals enqueued")
    job = Job.objects.get()
    assert (job.task_path, job.arguments["args"], job.queue_name, job.priority) == (
        "tests.testapp.tasks.add", [40, 2], "reports", 5
    )
    assert ReadyExecution.objects.filter(job_id=job.pk).exists()
    assert not RecurringExecution.objects.exists()  # no tick claimed: the schedule is unchanged
    page.locator("ul.messagelist a").click()
    expect(page.locator("#content h1")).to_have_text(f"tests.testapp.tasks.add #{job.pk}")
