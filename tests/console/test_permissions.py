"""Who may do what: every action for anonymous, staff without permission, view-only staff and a superuser."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from steady_queue.models import (
    BlockedExecution,
    FailedExecution,
    Job,
    Pause,
    ReadyExecution,
    RecurringTask,
    ScheduledExecution,
)
from steady_queue.models.job import job_pk
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def failed_task(run_tasks):
    result = tasks.fail.enqueue("permissions")
    run_tasks()
    return result


def scheduled_task(run_tasks):
    return tasks.add.using(run_after=timedelta(hours=1)).enqueue(1, 2)


def blocked_task(run_tasks):
    tasks.one_at_a_time.enqueue("k", "holder")
    return tasks.one_at_a_time.enqueue("k", "waiting")


def ready_task(run_tasks):
    return tasks.add.enqueue(1, 2)


def job_url(action):
    return lambda result: reverse("steady_queue_console:job-action", args=[job_pk(result.id), action])


def bulk_url(state, action):
    return lambda result: reverse("steady_queue_console:bulk", args=[state, action])


def unchanged(model):
    return lambda result: model.objects.filter(job_id=job_pk(result.id)).exists()


# action: (make the task, URL, POST data, permission needed, did nothing?)
ACTIONS = {
    "retry": (failed_task, job_url("retry"), {}, "change_failedexecution", unchanged(FailedExecution)),
    "discard failed": (failed_task, job_url("discard"), {}, "delete_failedexecution", unchanged(FailedExecution)),
    "run now scheduled": (
        scheduled_task, job_url("run-now"), {}, "change_scheduledexecution", unchanged(ScheduledExecution)
    ),
    "discard scheduled": (
        scheduled_task, job_url("discard"), {}, "delete_scheduledexecution", unchanged(ScheduledExecution)
    ),
    "cancel scheduled": (scheduled_task, job_url("cancel"), {}, "change_job", unchanged(ScheduledExecution)),
    "run now blocked": (blocked_task, job_url("run-now"), {}, "change_blockedexecution", unchanged(BlockedExecution)),
    "cancel blocked": (blocked_task, job_url("cancel"), {}, "change_job", unchanged(BlockedExecution)),
    "cancel ready": (ready_task, job_url("cancel"), {}, "change_job", unchanged(ReadyExecution)),
    "retry all": (failed_task, bulk_url("failed", "retry"), {}, "change_failedexecution", unchanged(FailedExecution)),
    "discard all": (
        failed_task, bulk_url("failed", "discard"), {}, "delete_failedexecution", unchanged(FailedExecution)
    ),
    "cancel all": (ready_task, bulk_url("ready", "cancel"), {}, "change_job", unchanged(ReadyExecution)),
    "pause": (
        ready_task, lambda r: reverse("steady_queue_console:pause"), {"queue": "default"}, "add_pause",
        lambda r: not Pause.objects.exists(),
    ),
    "run recurring": (
        lambda run_tasks: RecurringTask.objects.create(
            key="k", schedule="@daily", task_path="tests.testapp.tasks.add", arguments={"args": [1, 1]},
            queue_name="default",
        ),
        lambda task: reverse("steady_queue_console:recurring-run", args=[task.pk]),
        {}, "change_recurringtask", lambda task: not Job.objects.exists(),
    ),
}
VIEW_PERMISSIONS = ["view_job", "view_recurringtask", "view_process"]


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_users_are_sent_to_the_login_page(client, run_tasks, name):
    make, url, data, _, nothing_done = ACTIONS[name]
    subject = make(run_tasks)
    response = client.post(url(subject), data)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    assert nothing_done(subject)


@pytest.mark.parametrize("name", ACTIONS)
def test_staff_without_the_permission_get_403(user_with, run_tasks, name):
    make, url, data, _, nothing_done = ACTIONS[name]
    subject = make(run_tasks)
    assert user_with().post(url(subject), data).status_code == 403
    assert nothing_done(subject)


@pytest.mark.parametrize("name", ACTIONS)
def test_view_only_staff_see_no_button_and_get_403(user_with, run_tasks, name):
    make, url, data, _, nothing_done = ACTIONS[name]
    subject = make(run_tasks)
    client = user_with(*VIEW_PERMISSIONS)
    assert user_can_see_pages(client, subject)
    assert client.post(url(subject), data).status_code == 403
    assert nothing_done(subject)


@pytest.mark.parametrize("name", ACTIONS)
def test_the_permission_alone_is_enough(user_with, run_tasks, name):
    make, url, data, permission, nothing_done = ACTIONS[name]
    subject = make(run_tasks)
    response = user_with(*VIEW_PERMISSIONS, permission).post(url(subject), data)
    assert response.status_code == 302
    assert not nothing_done(subject)


@pytest.mark.parametrize("name", ACTIONS)
def test_a_superuser_may_do_everything(admin_client, run_tasks, name):
    make, url, data, _, nothing_done = ACTIONS[name]
    subject = make(run_tasks)
    assert admin_client.post(url(subject), data).status_code == 302
    assert not nothing_done(subject)


def user_can_see_pages(client, subject):
    """Every page renders for the view-only user, with no form that posts to the console."""
    pages = [reverse(f"steady_queue_console:{name}") for name in ("overview", "queues", "workers", "recurring")]
    states = ("failed", "ready", "scheduled", "blocked")
    pages += [reverse("steady_queue_console:jobs", args=[state]) for state in states]
    if isinstance(subject, RecurringTask):
        pages.append(reverse("steady_queue_console:recurring"))
    else:
        pages.append(reverse("steady_queue_console:job", args=[job_pk(subject.id)]))
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        # The admin's own logout form posts too; none of the console's may be there.
        assert not re.search(rb'<form method="post" action="/admin/steady-queue/', response.content), page
        assert b"-all/" not in response.content, page  # no link to a bulk confirmation either
    return True


def test_staff_without_the_view_permission_cannot_see_the_console(user_with):
    client = user_with("change_job")
    assert client.get(reverse("steady_queue_console:overview")).status_code == 403


def test_users_who_are_not_staff_are_sent_to_the_login_page(user_with):
    client = user_with("view_job", staff=False)
    response = client.get(reverse("steady_queue_console:overview"))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_a_superuser_sees_the_buttons_a_view_only_user_does_not(admin_client, run_tasks):
    result = failed_task(run_tasks)
    page = admin_client.get(reverse("steady_queue_console:job", args=[job_pk(result.id)])).content.decode()
    assert f'action="{job_url("retry")(result)}"' in page
    assert f'href="{job_url("discard")(result)}"' in page
    listing = admin_client.get(reverse("steady_queue_console:jobs", args=["failed"])).content.decode()
    assert f'href="{bulk_url("failed", "retry")(result)}"' in listing
