"""An operator logs in through the admin's form and clicks through every page of the console."""

import re

import pytest

from steady_queue.models import ClaimedExecution, FailedExecution

from .pages import STATE_LABELS, expect, go_to_section, go_to_tab, listed_ids, row, rows

# Sequences reset: the same job ids in every run, so the screenshots in the docs can be made again.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, reset_sequences=True)]

PAGE_SIZE = 50


def test_the_login_form_leads_an_operator_to_the_overview_and_its_numbers(operator, console_data, screenshot):
    page = operator
    page.reload()  # the data came after the login
    expect(page.locator("#content h1")).to_have_text("Steady Queue")
    for state, count in console_data.items():
        link = page.locator("#content .module .sq-tabs a", has_text=STATE_LABELS[state])
        expect(link).to_have_text(f"{STATE_LABELS[state]} {count}")
    for queue in ("default", "email", "low", "reports"):
        expect(page.locator("#content .module th[scope=row] a", has_text=re.compile(f"^{queue}$"))).to_be_visible()
    expect(page.locator("#content .module", has_text="Processes")).to_contain_text("worker")
    # The failures of the last hour are counted and drawn.
    failed_last_hour = page.locator("#content tr", has=page.locator("th", has_text=re.compile("^Failed$")))
    expect(failed_last_hour.locator("td.sq-num")).to_have_text("4")
    expect(page.locator("svg").first).to_be_visible()
    screenshot(page, "overview")


def test_the_queues_page_shows_each_queue_with_its_size(operator, console_data, screenshot):
    page = operator
    go_to_section(page, "Queues")
    expect(page.locator("#content h1")).to_have_text("Queues")
    # Ready tasks per queue: three adds and the holder of the invoice-42 slot; two e-mails.
    expect(row(page, "default").locator("td.sq-num").first).to_have_text("4")
    expect(row(page, "email").locator("td.sq-num").first).to_have_text("2")
    expect(row(page, "default").locator(".sq-badge")).to_have_text("running")
    screenshot(page, "queues")


def test_every_state_has_its_tab_with_its_tasks(operator, console_data, screenshot):
    page = operator
    go_to_section(page, "Tasks")
    expect(page.locator(".sq-tabs a.active")).to_contain_text("Failed")  # the tab an operator looks at first
    for state, count in console_data.items():
        go_to_tab(page, state)
        expect(page.locator("#content h1")).to_have_text(f"{STATE_LABELS[state]} tasks")
        expect(rows(page)).to_have_count(min(count, PAGE_SIZE))
        if state == "failed":
            expect(row(page, "card declined")).to_contain_text("ValueError")
            screenshot(page, "tasks-failed")
        if state == "in-progress":
            expect(rows(page).first).to_contain_text("worker-1")
        if state == "blocked":
            expect(rows(page).first).to_contain_text("invoice-42")
    go_to_tab(page, "failed")
    # Newest first: the failure shown first is the last one made.
    assert listed_ids(page)[0] == FailedExecution.objects.latest("pk").job_id


def test_a_task_page_shows_its_arguments_and_its_traceback(operator, console_data, screenshot):
    page = operator
    go_to_section(page, "Tasks")
    row(page, "card declined").locator("a", has_text="#").click()
    expect(page.locator("#content h1")).to_contain_text("tests.testapp.tasks.fail #")
    expect(page.locator("#content .module", has_text="Arguments")).to_contain_text('"card declined"')
    errors = page.locator("#content .module", has_text="Errors, latest first")
    expect(errors).to_contain_text("ValueError: card declined")
    expect(errors).to_contain_text("Traceback")
    for label in ("Retry", "Discard…"):
        expect(page.locator(".sq-actions").get_by_text(label, exact=True)).to_be_visible()
    # The link to the discard's confirmation is a red button, not red underlined text on a blue one.
    discard, retry = page.locator(".sq-actions a", has_text="Discard…"), page.locator(".sq-actions input[value=Retry]")
    expect(discard).to_have_css("text-decoration-line", "none")
    expect(discard).to_have_css("color", computed(retry, "color"))
    assert computed(discard, "backgroundColor") != computed(retry, "backgroundColor")
    # Tall enough for the traceback: the page an operator opens a failure for.
    screenshot(page, "task-failed", down_to="#content .module")


def computed(locator, style):
    return locator.evaluate(f"element => getComputedStyle(element).{style}")


def test_the_workers_page_lists_the_processes_and_what_they_run(operator, console_data, screenshot):
    page = operator
    go_to_section(page, "Workers")
    expect(rows(page)).to_have_count(3)
    worker = row(page, "worker-1")
    expect(worker).to_contain_text("supervised by supervisor-1")
    running = worker.locator("a")
    expect(running).to_have_count(2)
    screenshot(page, "workers")
    running.first.click()
    claimed = ClaimedExecution.objects.order_by("job_id").first()
    expect(page.locator("#content h1")).to_have_text(f"tests.testapp.tasks.add #{claimed.job_id}")
    expect(page.locator("#content .module", has_text="Worker")).to_contain_text("worker-1, running since")


def test_the_recurring_page_shows_the_schedule_the_last_runs_and_masks_secrets(operator, console_data, screenshot):
    page = operator
    go_to_section(page, "Recurring tasks")
    nightly = row(page, "nightly-totals")
    expect(nightly).to_contain_text("0 3 * * *")
    expect(nightly.get_by_role("link", name="finished")).to_have_count(3)
    digest = row(page, "hourly-digest")
    expect(digest).to_contain_text("********")
    expect(digest).not_to_contain_text("not-for-your-eyes")
    screenshot(page, "recurring")
    nightly.get_by_role("link", name="finished").first.click()
    expect(page.locator("#content .module", has_text="Recurring")).to_contain_text("nightly-totals, tick of")


def test_the_tasks_section_is_marked_current_on_the_task_lists(operator):
    go_to_section(operator, "Tasks")
    expect(operator.locator(".sq-sections a[aria-current=page]")).to_have_text("Tasks", timeout=2_000)


def test_the_sections_and_the_state_tabs_are_tabs_without_bullets_or_underlines(operator):
    # The admin's stylesheet gives every "ul li" a square bullet and underlines links; these are rows of tabs.
    go_to_section(operator, "Tasks")
    for tabs in (".sq-sections", ".sq-tabs"):
        expect(operator.locator(f"{tabs} li").first).to_have_css("list-style-type", "none")
        expect(operator.locator(f"{tabs} a").first).to_have_css("text-decoration-line", "none")
