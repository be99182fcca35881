"""What the browser tests read and click on the console's pages, named as an operator would say it."""

import os
import re

import pytest


def unavailable(reason):
    """Skip the browser tests, saying why; fail them where they must run (STEADY_QUEUE_BROWSER_TESTS=required, CI)."""
    if os.environ.get("STEADY_QUEUE_BROWSER_TESTS") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


# Imported here, not in conftest: each test module that needs Playwright is skipped, with the reason, without it.
try:
    from playwright import sync_api
except ImportError:
    unavailable("Playwright is not installed: pip install -r requirements-dev.txt")

expect = sync_api.expect
# Generous: the machine may be busy. A page that never shows what is expected still fails the test.
expect.set_options(timeout=20_000)

STATE_LABELS = {
    "failed": "Failed", "in-progress": "In progress", "blocked": "Blocked", "scheduled": "Scheduled",
    "ready": "Ready", "finished": "Finished", "cancelled": "Cancelled",
}


def go_to_section(page, label):
    """Click one of the console's sections (Overview, Queues, Tasks, Workers, Recurring tasks)."""
    link = page.locator(".sq-sections").get_by_role("link", name=label, exact=True)
    target = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{target}")


def go_to_tab(page, state):
    """On a task list, click the tab of a state."""
    page.locator(".sq-tabs a", has_text=re.compile(f"^{STATE_LABELS[state]} ")).click()
    expect(page.locator(".sq-tabs a.active")).to_contain_text(STATE_LABELS[state])


def rows(page):
    """The rows of the page's table (the task list, queues, workers or recurring tasks)."""
    return page.locator("#result_list tbody tr")


def row(page, text):
    return rows(page).filter(has_text=text)


def listed_ids(page):
    """The job ids of the task list on the page, in the order shown."""
    return [int(link.removeprefix("#")) for link in page.locator("#result_list tbody td:first-child a:first-child")
            .all_inner_texts()]


def expect_message(page, text):
    """The admin's message after an action: shown once the action's redirect has landed, so the action is done."""
    expect(page.locator("ul.messagelist")).to_contain_text(text, ignore_case=True)  # the admin capitalises it


def console_buttons(page):
    """Everything on the page that would act: forms that post to the console, links to bulk confirmations."""
    return page.locator("form[method=post][action^='/admin/steady-queue/'], a[href*='-all/'], a.deletelink")
