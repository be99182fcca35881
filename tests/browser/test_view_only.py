"""A user who may see the console but not act: every page, and not one button. Who cannot log in at all."""

import pytest

from steady_queue.models import BlockedExecution, FailedExecution, ReadyExecution, ScheduledExecution

from .conftest import PASSWORD
from .pages import console_buttons, expect, go_to_section, go_to_tab, rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_view_only_user_sees_every_page_and_no_button(viewer, console_url, console_data):
    page = viewer
    page.reload()
    expect(page.locator("#content h1")).to_have_text("Steady Queue")
    expect(console_buttons(page)).to_have_count(0)
    for section in ("Queues", "Workers", "Recurring tasks"):
        go_to_section(page, section)
        expect(rows(page).first).to_be_visible()
        expect(console_buttons(page)).to_have_count(0)
    go_to_section(page, "Tasks")
    for state, count in console_data.items():
        go_to_tab(page, state)
        expect(rows(page)).to_have_count(min(count, 50))
        expect(console_buttons(page)).to_have_count(0)
    # The page of a task in each state that has actions for those who may act.
    for model in (FailedExecution, ScheduledExecution, BlockedExecution, ReadyExecution):
        page.goto(f"{console_url}task/{model.objects.first().job_id}/")
        expect(page.locator("#content .module").first).to_be_visible()
        expect(page.locator(".sq-actions")).to_have_count(0)
        expect(console_buttons(page)).to_have_count(0)


def test_a_user_who_is_not_staff_is_refused_by_the_login_form(console_url, new_page, transactional_db):
    from django.contrib.auth.models import User

    User.objects.create_user("customer", password=PASSWORD)
    page = new_page()
    page.goto(console_url)
    page.fill("#id_username", "customer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit][value='Log in']")
    expect(page.locator(".errornote")).to_contain_text("staff account")
    page.goto(console_url)
    expect(page.locator("#id_username")).to_be_visible()  # still the login form, not the console
