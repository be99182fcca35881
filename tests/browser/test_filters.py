"""Filtering a list by task and by queue, and going from page to page."""

import pytest

from steady_queue.models import Job
from tests.testapp import tasks

from .pages import expect, listed_ids, rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_filters_narrow_the_list_and_its_counts_and_can_be_cleared(operator, console_url):
    tasks.add.enqueue_many([(1, 1), (2, 2)])
    tasks.add.using(queue_name="low").enqueue(3, 3)
    tasks.send_email.enqueue("ada@example.com")
    page = operator
    page.goto(f"{console_url}tasks/ready/")
    expect(rows(page)).to_have_count(4)

    page.fill("#sq-task", "tests.testapp.tasks.add")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(3)
    expect(page.locator(".sq-tabs a.active")).to_have_text("Ready 3")

    page.fill("#sq-queue", "low")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("low")
    # The tabs keep the filters: the other states are counted with them too.
    page.locator(".sq-tabs a", has_text="Scheduled").click()
    expect(page.locator("#sq-task")).to_have_value("tests.testapp.tasks.add")
    expect(page.locator("#sq-queue")).to_have_value("low")

    page.get_by_role("link", name="Clear filters").click()
    page.locator(".sq-tabs a", has_text="Ready").click()
    expect(rows(page)).to_have_count(4)


def test_next_page_follows_the_first_and_first_page_goes_back(operator, console_url, run_tasks):
    tasks.add.enqueue_many([(i, i) for i in range(55)])
    run_tasks()
    page = operator
    page.goto(f"{console_url}tasks/finished/")
    expect(rows(page)).to_have_count(50)
    first = listed_ids(page)
    page.get_by_role("link", name="Next page »").click()
    expect(rows(page)).to_have_count(5)
    second = listed_ids(page)
    # The latest ended first, and no task on both pages.
    assert first + second == list(Job.objects.order_by("-finished_at", "-pk").values_list("pk", flat=True))
    expect(page.get_by_role("link", name="Next page »")).to_have_count(0)
    page.get_by_role("link", name="« First page").click()
    expect(rows(page)).to_have_count(50)
    assert listed_ids(page) == first
