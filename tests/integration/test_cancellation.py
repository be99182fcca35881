"""Cancelling tasks: what a cancel writes in each state, what it leaves alone, and how it reads back."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus, default_task_backend
from django.urls import reverse
from django.utils import timezone

from steady_queue.cancellation import cancel, cancel_many, cancel_requested, is_cancelled
from steady_queue.exceptions import TaskCancelled
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    ReadyExecution,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.failed_execution import retry
from steady_queue.models.job import clear_finished, job_pk
from steady_queue.models.scheduled_execution import dispatch_due
from tests.databases import queue_connection
from tests.testapp import cancel_tasks, tasks
from tests.testapp.models import TaskRun

pytestmark = pytest.mark.django_db

STATE_TABLES = (ReadyExecution, ScheduledExecution, BlockedExecution, ClaimedExecution, FailedExecution)


def later(hours=1):
    return timezone.now() + timedelta(hours=hours)


def job_of(result):
    return Job.objects.get(pk=job_pk(result.id))


def state_rows(result):
    return [model.__name__ for model in STATE_TABLES if model.objects.filter(job_id=job_pk(result.id)).exists()]


def assert_cancelled(result, waiting):
    read = default_task_backend.get_result(result.id)
    assert read.status == TaskResultStatus.FAILED
    assert read.errors[-1].exception_class is TaskCancelled
    assert read.finished_at is not None and read.started_at is None
    job = job_of(result)
    assert is_cancelled(job) and job.cancelled_at == job.finished_at
    assert TaskCancelled.WAITING[waiting] in job.errors[-1]["message"]
    assert state_rows(result) == []  # no failed row either: retrying failed tasks never brings it back


def free_slots(key, task="one_at_a_time"):
    return Semaphore.objects.get(key=f"tests.testapp.tasks.{task}/{key}").value


@pytest.mark.parametrize(
    ("waiting", "enqueue"),
    [
        ("ready", lambda: tasks.add.enqueue(1, 2)),
        ("scheduled", lambda: tasks.add.using(run_after=later()).enqueue(1, 2)),
        ("blocked", lambda: [tasks.one_at_a_time.enqueue("k", "first"), tasks.one_at_a_time.enqueue("k", "b")][1]),
    ],
)
def test_a_waiting_task_is_cancelled_and_reads_failed_with_task_cancelled(waiting, enqueue, run_tasks):
    result = enqueue()
    assert cancel(result.id) is True
    assert_cancelled(result, waiting)
    assert cancel(result.id) is False  # cancelled already
    run_tasks()
    assert not TaskRun.objects.filter(label="k:b").exists()
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED


def test_the_error_says_who_cancelled_and_when():
    result = tasks.add.enqueue(1, 2)
    cancel(result.id, by="ops on-call")
    message = job_of(result).errors[-1]["message"]
    assert message.startswith("Cancelled by ops on-call at 20") and message.endswith("while it waited for a worker")
    assert job_of(result).errors[-1]["exception_class_path"] == "steady_queue.exceptions.TaskCancelled"


def test_a_cancelled_scheduled_task_is_not_dispatched():
    result = tasks.add.using(run_after=timezone.now() + timedelta(seconds=1)).enqueue(1, 2)
    assert cancel(result.id)
    Job.objects.filter(pk=job_pk(result.id)).update(scheduled_at=timezone.now() - timedelta(hours=1))
    assert dispatch_due(100) == 0
    assert state_rows(result) == []


def test_a_cancelled_ready_task_of_a_limited_task_hands_its_slot_to_the_next(run_tasks):
    first = tasks.one_at_a_time.enqueue("k", "first")
    second = tasks.one_at_a_time.enqueue("k", "second")
    third = tasks.one_at_a_time.enqueue("k", "third")
    assert state_rows(first) == ["ReadyExecution"] and free_slots("k") == 0

    assert cancel(first.id)
    assert state_rows(second) == ["ReadyExecution"] and state_rows(third) == ["BlockedExecution"]
    assert free_slots("k") == 0  # the slot moved to the second task, it was not given back
    run_tasks()
    run_tasks()
    assert sorted(TaskRun.objects.values_list("label", flat=True)) == ["k:second", "k:third"]
    assert free_slots("k") == 1


def test_a_cancelled_blocked_task_gives_back_no_slot(run_tasks):
    first = tasks.two_at_a_time.enqueue("k", "first")
    tasks.two_at_a_time.enqueue("k", "second")
    blocked = tasks.two_at_a_time.enqueue("k", "third")
    assert free_slots("k", "two_at_a_time") == 0
    assert cancel(blocked.id)
    assert free_slots("k", "two_at_a_time") == 0  # it held none
    run_tasks()
    assert free_slots("k", "two_at_a_time") == 2
    assert default_task_backend.get_result(first.id).status == TaskResultStatus.SUCCESSFUL


def test_a_cancelled_scheduled_limited_task_takes_no_slot():
    result = tasks.one_at_a_time.using(run_after=later()).enqueue("k", "later")
    holder = tasks.one_at_a_time.enqueue("k", "now")
    assert cancel(result.id)
    assert free_slots("k") == 0 and state_rows(holder) == ["ReadyExecution"]


def test_a_finished_failed_or_unknown_task_is_not_cancelled(run_tasks):
    done = tasks.add.enqueue(1, 2)
    failed = tasks.fail.enqueue("boom")
    run_tasks()
    assert cancel(done.id) is False
    assert cancel(failed.id) is False
    assert default_task_backend.get_result(done.id).status == TaskResultStatus.SUCCESSFUL
    assert default_task_backend.get_result(failed.id).errors[-1].exception_class is ValueError
    assert job_of(done).cancelled_at is None and job_of(failed).cancelled_at is None
    assert cancel(f"{job_pk(done.id) + 1000}-{'1' * 16}") is False
    # A stale id (right row, wrong token) names no task.
    waiting = tasks.add.enqueue(3, 4)
    assert cancel(f"{job_pk(waiting.id)}-{'0' * 15}1") is False
    assert state_rows(waiting) == ["ReadyExecution"]


@pytest.mark.parametrize("bad", ["", "abc", "12-xyz", "12-", "-1", "1.5", "12-1f0c9a7be3d2558", " 12"])
def test_a_malformed_id_cancels_nothing(bad, django_assert_max_num_queries):
    result = tasks.add.enqueue(1, 2)
    with django_assert_max_num_queries(0):
        assert cancel(bad) is False
    assert state_rows(result) == ["ReadyExecution"] and job_of(result).cancelled_at is None


@pytest.mark.parametrize("bad", [None, 12, b"12-1f0c9a7be3d25586", ["1"]])
def test_something_else_than_a_result_id_is_refused_with_a_clear_error(bad):
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(TypeError, match=r"cancel\(\) takes a result id \(TaskResult.id, a string\)"):
        cancel(bad)
    assert state_rows(result) == ["ReadyExecution"]


def test_get_result_of_a_cancelled_task_is_one_query(django_assert_num_queries):
    result = tasks.add.enqueue(1, 2)
    cancel(result.id)
    with django_assert_num_queries(1, connection=queue_connection):
        assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED


def test_cancel_many_by_queue():
    emails = [tasks.send_email.enqueue(f"{i}@example.com") for i in range(3)]
    scheduled_email = tasks.send_email.using(run_after=later()).enqueue("later@example.com")
    other = tasks.add.enqueue(1, 2)
    assert cancel_many(queue_name="email") == 4
    for result in emails:
        assert_cancelled(result, "ready")
    assert_cancelled(scheduled_email, "scheduled")
    assert state_rows(other) == ["ReadyExecution"]
    assert cancel_many(queue_name="email") == 0


def test_cancel_many_by_task_path_and_queue_together():
    adds = tasks.add.enqueue_many([(i, i) for i in range(5)])
    low = tasks.add.using(queue_name="low").enqueue(9, 9)
    echo = tasks.echo.enqueue(1)
    assert cancel_many(task_path="tests.testapp.tasks.add", queue_name="default") == 5
    assert all(default_task_backend.get_result(r.id).status == TaskResultStatus.FAILED for r in adds)
    assert state_rows(low) == ["ReadyExecution"] and state_rows(echo) == ["ReadyExecution"]
    assert cancel_many(task_path="tests.testapp.tasks.add") == 1


def test_cancel_many_in_small_batches_by_result_ids():
    results = tasks.add.enqueue_many([(i, i) for i in range(7)])
    keep = results.pop(3)
    assert cancel_many(result_ids=[r.id for r in results] + ["nonsense", "999999-0000000000000001"], batch_size=2) == 6
    assert state_rows(keep) == ["ReadyExecution"]
    assert cancel_many(result_ids=[]) == 0


def test_cancel_many_leaves_running_finished_and_failed_tasks_alone(run_tasks):
    finished, failed = tasks.add.enqueue(1, 2), tasks.fail.enqueue("x")
    run_tasks()
    running = tasks.add.enqueue(3, 4)
    waiting = []

    def cancel_everything(claimed):
        waiting.append(tasks.add.enqueue(5, 6))
        assert cancel_many(task_path="tests.testapp.tasks.add") == 1
        assert cancel_many(task_path="tests.testapp.tasks.fail") == 0

    run_tasks(after_claim=cancel_everything)
    assert default_task_backend.get_result(running.id).status == TaskResultStatus.SUCCESSFUL
    assert job_of(running).cancelled_at is None  # cancel_many asks no running task to stop
    assert default_task_backend.get_result(finished.id).status == TaskResultStatus.SUCCESSFUL
    assert state_rows(failed) == ["FailedExecution"]
    assert_cancelled(waiting[0], "ready")


def test_cancel_many_takes_querysets_of_jobs_and_of_state_rows():
    first, second, third = tasks.add.enqueue_many([(1, 1), (2, 2), (3, 3)])
    assert cancel_many(queryset=Job.objects.filter(pk=job_pk(first.id))) == 1
    assert cancel_many(queryset=ReadyExecution.objects.filter(job_id=job_pk(second.id))) == 1
    assert state_rows(third) == ["ReadyExecution"]
    with pytest.raises(TypeError, match="queryset must select jobs"):
        cancel_many(queryset=ClaimedExecution.objects.all())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "at least one of"),
        ({"queue_name": "default", "batch_size": 0}, ValueError, "batch_size"),
        ({"queue_name": "default", "batch_size": True}, ValueError, "batch_size"),
        ({"queue_name": "default", "batch_size": 10_001}, ValueError, "batch_size"),
        ({"result_ids": "12-1f0c9a7be3d25586"}, TypeError, "a list of result ids"),
    ],
)
def test_cancel_many_refuses_what_would_cancel_too_much_or_nothing(kwargs, error, message):
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(error, match=message):
        cancel_many(**kwargs)
    assert state_rows(result) == ["ReadyExecution"]


def test_cancelling_a_running_task_records_a_request_and_its_outcome_stands(run_tasks):
    result = cancel_tasks.stoppable.enqueue("coop", steps=3, seconds=0)
    answers = []

    def cancel_while_running(claimed):
        answers.append(cancel(result.id))
        answers.append(cancel_requested(result.id))
        answers.append(cancel(result.id))  # asked already

    run_tasks(after_claim=cancel_while_running)
    assert answers == [False, True, False]
    read = default_task_backend.get_result(result.id)
    assert read.status == TaskResultStatus.SUCCESSFUL
    assert read.return_value == {"stopped_at_step": 0}  # the task saw the request at its first check
    job = job_of(result)
    assert job.cancelled_at is not None and not is_cancelled(job)
    assert cancel_requested(result.id) is False  # no longer running


def test_a_task_that_raises_when_asked_to_stop_fails_and_a_retry_clears_the_request(run_tasks):
    result = cancel_tasks.stoppable_by_raising.enqueue("raises")
    run_tasks(after_claim=lambda claimed: cancel(result.id))
    read = default_task_backend.get_result(result.id)
    assert read.status == TaskResultStatus.FAILED and read.errors[-1].exception_class is RuntimeError
    assert state_rows(result) == ["FailedExecution"]

    assert retry([result.id]) == 1
    assert job_of(result).cancelled_at is None
    run_tasks()
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.SUCCESSFUL


def test_cancel_requested_takes_a_context_a_result_or_an_id():
    result = tasks.add.enqueue(1, 2)
    assert cancel_requested(result) is False and cancel_requested(result.id) is False
    assert cancel_requested("nonsense") is False
    with pytest.raises(TypeError, match="context, its TaskResult or a result id"):
        cancel_requested(None)


def test_cleared_with_the_finished_tasks():
    result = tasks.add.enqueue(1, 2)
    cancel(result.id)
    assert clear_finished(timezone.now() + timedelta(seconds=1)) == 1
    assert not Job.objects.exists()


def test_cancelling_inside_a_transaction_that_rolls_back_cancels_nothing():
    from django.db import transaction

    result = tasks.add.enqueue(1, 2)
    with pytest.raises(RuntimeError), transaction.atomic(using=queue_connection.alias):
        assert cancel(result.id)
        raise RuntimeError("roll back")
    assert state_rows(result) == ["ReadyExecution"] and job_of(result).cancelled_at is None


# The command


def test_the_command_cancels_by_result_id(capsys):
    first, second = tasks.add.enqueue(1, 2), tasks.add.enqueue(3, 4)
    call_command("steady_queue_cancel", first.id)
    assert capsys.readouterr().out.strip() == f"Cancelled {first.id}"
    call_command("steady_queue_cancel", first.id, second.id)
    out = capsys.readouterr().out
    assert f"{first.id} had already finished or been cancelled" in out and f"Cancelled {second.id}" in out
    assert "manage.py steady_queue_cancel" in job_of(first).errors[-1]["message"]


def test_the_command_says_a_running_task_was_asked_to_stop(capsys, run_tasks):
    result = cancel_tasks.stoppable.enqueue("cmd", steps=2, seconds=0)
    run_tasks(after_claim=lambda claimed: call_command("steady_queue_cancel", result.id))
    assert "is running: cancellation requested" in capsys.readouterr().out


def test_the_command_cancels_by_queue_and_task(capsys):
    tasks.send_email.enqueue_many([("a@example.com",), ("b@example.com",)])
    tasks.add.enqueue(1, 2)
    call_command("steady_queue_cancel", "--queue", "email")
    assert capsys.readouterr().out.strip() == "Cancelled 2 task(s)."
    call_command("steady_queue_cancel", "--task", "tests.testapp.tasks.add", "--queue", "default")
    assert capsys.readouterr().out.strip() == "Cancelled 1 task(s)."


def test_the_command_names_a_selection_that_matches_no_task(capsys):
    call_command("steady_queue_cancel", "--task", "tests.testapp.tasks.nope")
    captured = capsys.readouterr()
    assert captured.out.strip() == "Cancelled 0 task(s)."
    assert "No task has been enqueued with --task 'tests.testapp.tasks.nope'" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name the tasks to cancel"),
        (("abc",), "Not a result id: abc"),
        (("999999-0000000000000001",), "No task has the result id 999999-0000000000000001"),
    ],
)
def test_the_command_refuses_what_names_no_task(args, message):
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(CommandError, match=message):
        call_command("steady_queue_cancel", *args)
    assert state_rows(result) == ["ReadyExecution"]


def test_the_command_help_explains_every_flag(capsys):
    from steady_queue.management.commands.steady_queue_cancel import Command

    text = Command().create_parser("manage.py", "steady_queue_cancel").format_help()
    for words in ("RESULT_ID", "--queue QUEUE", "--task PATH", "never run", "cancel_requested"):
        assert words in " ".join(text.split())


# The admin


def test_the_admin_cancels_selected_jobs_and_shows_them_cancelled(admin_client):
    result, kept = tasks.add.enqueue(1, 2), tasks.add.enqueue(3, 4)
    url = reverse("admin:steady_queue_job_changelist")
    response = admin_client.post(
        url, {"action": "cancel_selected", "_selected_action": [job_pk(result.id)]}, follow=True
    )
    assert b"1 task(s) cancelled." in response.content
    assert_cancelled(result, "ready")
    assert "admin user admin" in job_of(result).errors[-1]["message"]
    assert state_rows(kept) == ["ReadyExecution"]

    listing = admin_client.get(url, {"cancelled": "yes"})
    assert listing.context["cl"].result_count == 1 and b"Cancelled" in listing.content
    page = admin_client.get(reverse("admin:steady_queue_job_change", args=[job_pk(result.id)]))
    assert b"Cancelled" in page.content and b"TaskCancelled" in page.content


@pytest.mark.parametrize(
    ("model", "enqueue"),
    [
        ("readyexecution", lambda: tasks.add.enqueue(1, 2)),
        ("scheduledexecution", lambda: tasks.add.using(run_after=later()).enqueue(1, 2)),
        ("blockedexecution", lambda: [tasks.one_at_a_time.enqueue("k", "1"), tasks.one_at_a_time.enqueue("k", "2")][1]),
    ],
)
def test_the_admin_cancels_from_the_waiting_lists(admin_client, model, enqueue):
    result = enqueue()
    admin_client.post(
        reverse(f"admin:steady_queue_{model}_changelist"),
        {"action": "cancel_selected", "_selected_action": [job_pk(result.id)]},
    )
    assert default_task_backend.get_result(result.id).errors[-1].exception_class is TaskCancelled


def test_the_admin_shows_a_request_on_a_running_task(admin_client, run_tasks):
    result = cancel_tasks.stoppable.enqueue("admin", steps=1, seconds=0)
    pages = []

    def look(claimed):
        cancel(result.id)
        url = reverse("admin:steady_queue_job_changelist")
        pages.append(admin_client.get(url, {"cancelled": "requested"}))

    run_tasks(after_claim=look)
    assert pages[0].context["cl"].result_count == 1
    assert b"Running (cancel requested)" in pages[0].content


def test_the_cancel_action_needs_the_change_job_permission(client):
    result = tasks.add.enqueue(1, 2)
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    url = reverse("admin:steady_queue_job_changelist")
    response = client.get(url)
    assert "cancel_selected" not in response.context["cl"].model_admin.get_actions(response.wsgi_request)
    client.post(url, {"action": "cancel_selected", "_selected_action": [job_pk(result.id)]})
    assert state_rows(result) == ["ReadyExecution"]

    viewer.user_permissions.add(Permission.objects.get(codename="change_job"))
    viewer = User.objects.get(pk=viewer.pk)  # permissions are cached on the instance
    client.force_login(viewer)
    client.post(url, {"action": "cancel_selected", "_selected_action": [job_pk(result.id)]})
    assert state_rows(result) == []
