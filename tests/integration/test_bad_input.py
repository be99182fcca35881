"""The bad-input catalogue: each mistake fails at the earliest point, writes nothing, stops no worker.

Enqueue-time and import-time mistakes raise before any row exists; mistakes found in stored rows
(a task that no longer imports, corrupted arguments) fail that task visibly while the worker goes on.
"""

import datetime
import decimal
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import InvalidTask
from django.test import override_settings

from steady_queue.arguments import DeserializationError, SerializationError
from steady_queue.concurrency import ConcurrencyKeyError, limits_concurrency
from steady_queue.conf import get_config
from steady_queue.models import ClaimedExecution, Job, Pause, Process, RecurringTask, Semaphore
from steady_queue.models.job import job_pk
from steady_queue.recurring_task import RecurringTaskError, recurring
from tests.testapp import tasks
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


def nothing_written():
    return not Job.objects.exists() and not Semaphore.objects.exists() and not Pause.objects.exists()


def module_level(x):
    return x


ENQUEUE_MISTAKES = [
    ("a set argument", lambda: tasks.echo.enqueue({1}), SerializationError, "unsupported type builtins.set"),
    ("bytes", lambda: tasks.echo.enqueue(b"x"), SerializationError, "builtins.bytes"),
    ("an object", lambda: tasks.echo.enqueue(object()), SerializationError, "builtins.object"),
    ("a non-string dict key", lambda: tasks.echo.enqueue({1: 2}), SerializationError, "dict keys must be strings"),
    ("NaN", lambda: tasks.echo.enqueue(float("nan")), SerializationError, "no NaN"),
    ("an infinite Decimal", lambda: tasks.echo.enqueue(decimal.Decimal("Infinity")), SerializationError, "finite"),
    ("a NUL character", lambda: tasks.echo.enqueue("a\x00"), SerializationError, "NUL character"),
    ("an unsaved model instance", lambda: tasks.echo.enqueue(Author(name="x")), SerializationError, "unsaved"),
    ("a deep bad value", lambda: tasks.echo.enqueue(data={"a": [1, {2}]}), SerializationError, r"kwargs\['data'\]"),
    ("priority 101", lambda: tasks.add.using(priority=101).enqueue(1, 1), InvalidTask, "priority must be"),
    ("priority -101", lambda: tasks.add.using(priority=-101).enqueue(1, 1), InvalidTask, "priority must be"),
    ("a fractional priority", lambda: tasks.add.using(priority=2.5).enqueue(1, 1), InvalidTask, "whole number"),
    ("an unknown queue", lambda: tasks.add.using(queue_name="nope").enqueue(1, 1), InvalidTask, "is not in TASKS"),
    ("a naive run_after", lambda: tasks.add.using(run_after=datetime.datetime(2030, 1, 1)), InvalidTask, "aware"),
    ("a concurrency key of None", lambda: tasks.one_at_a_time.enqueue(None, "x"), ConcurrencyKeyError, "not None"),
    ("a key function that raises", lambda: tasks.one_at_a_time.enqueue(label="x"), ConcurrencyKeyError, "raised"),
    ("a too-long key", lambda: tasks.one_at_a_time.enqueue("k" * 300, "x"), ConcurrencyKeyError, "255"),
    ("a bad bulk call", lambda: tasks.add.enqueue_many([(1, 1), [2, 2]]), TypeError, "takes Call"),
    ("a bad argument in a bulk call", lambda: tasks.echo.enqueue_many([(1,), ({2},)]), SerializationError, "set"),
]


@pytest.mark.parametrize(("what", "call", "error", "message"), ENQUEUE_MISTAKES, ids=[m[0] for m in ENQUEUE_MISTAKES])
def test_enqueue_mistakes(what, call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert nothing_written()


IMPORT_MISTAKES = [
    ("@limits_concurrency inside @task", lambda: task()(limits_concurrency(key="k")(module_level)), TypeError,
     "outside @task"),
    ("a concurrency limit of 0", lambda: limits_concurrency(key="k", to=0), TypeError, "at least 1"),
    ("a bad cron expression", lambda: recurring(schedule="99 * * * *", key="bad")(tasks.echo), RecurringTaskError,
     "invalid schedule"),
    ("a duplicate recurring key", lambda: [recurring(schedule="@daily", key="dup")(t) for t in (tasks.echo, tasks.add)],
     RecurringTaskError, "used twice"),
    ("recurring arguments that cannot be stored",
     lambda: recurring(schedule="@daily", key="k", args=({1},))(tasks.echo), RecurringTaskError, "builtins.set"),
    ("a recurring priority out of range", lambda: recurring(schedule="@daily", key="k", priority=500)(tasks.echo),
     RecurringTaskError, "priority"),
    ("a recurring queue the backend refuses", lambda: recurring(schedule="@daily", key="k", queue_name="x")(tasks.echo),
     RecurringTaskError, "not allowed"),
    ("@recurring inside @task", lambda: task()(recurring(schedule="@daily", key="k")(module_level)),
     RecurringTaskError, "outside @task"),
]


@pytest.mark.parametrize(("what", "call", "error", "message"), IMPORT_MISTAKES, ids=[m[0] for m in IMPORT_MISTAKES])
def test_import_time_mistakes(registry, what, call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert nothing_written() and not RecurringTask.objects.exists()


SETTINGS_MISTAKES = [
    ({"workers": [{"threads": 0}]}, "['threads'] must be at least 1"),
    ({"workers": [{"queues": ["a*b"]}]}, "may only have '*' at its end"),
    ({"shutdown_timeout": "5s"}, "number of seconds or a timedelta"),
    ({"dispatchers": "one"}, "must be a list of dicts"),
    ({"colour": "blue"}, "unknown key 'colour'"),
    ({"recurring_tasks": {"x": {"schedule": "@daily"}}}, "needs 'task'"),
]


@pytest.mark.parametrize(("settings", "message"), SETTINGS_MISTAKES, ids=[m[1] for m in SETTINGS_MISTAKES])
def test_invalid_settings_fail_before_anything_starts(settings, message):
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(STEADY_QUEUE=settings):
        with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
            get_config()
        with pytest.raises(CommandError, match="Invalid STEADY_QUEUE"):
            call_command("steady_queue", skip_checks=True)
    assert not Process.objects.exists()


def stored_with(**change):
    """A job of tasks.add whose row was changed after it was enqueued."""

    def enqueue():
        bad = tasks.add.enqueue(1, 2)
        Job.objects.filter(pk=job_pk(bad.id)).update(**change)
        return bad

    return enqueue


def with_its_model_argument_deleted():
    author = Author.objects.create(name="gone")
    bad = tasks.greet.enqueue(author)
    author.delete()
    return bad


STORED_ROW_MISTAKES = [
    ("an unknown task path", stored_with(task_path="tests.testapp.tasks.no_such_task"), ImportError,
     "can no longer be imported"),
    ("a module that no longer imports", stored_with(task_path="tests.testapp.broken_tasks.task"), ImportError,
     "can no longer be imported (RuntimeError: this module fails at import)"),
    ("a path that is not a task", stored_with(task_path="tests.testapp.models.Author"), ImportError,
     "it is not a task"),
    ("corrupted arguments",
     stored_with(arguments={"args": [{"__sq__": "datetime", "v": "garbage"}], "kwargs": {}}), DeserializationError,
     "DeserializationError"),
    ("an unknown argument tag", stored_with(arguments={"args": [{"__sq__": "pickle", "v": "x"}], "kwargs": {}}),
     DeserializationError, "Unknown argument tag"),
    ("arguments of the wrong shape", stored_with(arguments={"args": [1, 2, 3], "kwargs": {}}), TypeError,
     "TypeError"),
    ("a deleted model argument", with_its_model_argument_deleted, DeserializationError,
     "testapp.Author with primary key"),
]


@pytest.mark.parametrize(
    ("what", "enqueue", "exception_class", "message"), STORED_ROW_MISTAKES, ids=[m[0] for m in STORED_ROW_MISTAKES]
)
def test_bad_stored_rows_fail_their_task_and_the_worker_goes_on(run_tasks, what, enqueue, exception_class, message):
    bad = enqueue()
    good = tasks.add.enqueue(2, 3)
    run_tasks()
    failed = default_task_backend.get_result(bad.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[-1].exception_class is exception_class
    assert message in failed.errors[-1].traceback
    assert not ClaimedExecution.objects.exists()
    succeeded = default_task_backend.get_result(good.id)
    assert succeeded.status == TaskResultStatus.SUCCESSFUL and succeeded.return_value == 5


def test_the_catalogue_has_at_least_25_cases():
    total = len(ENQUEUE_MISTAKES) + len(IMPORT_MISTAKES) + len(SETTINGS_MISTAKES) + len(STORED_ROW_MISTAKES)
    assert total >= 25, total


def test_run_after_accepts_only_what_it_documents():
    with pytest.raises(InvalidTask):
        tasks.add.using(run_after=datetime.datetime(2030, 1, 1))
    assert tasks.add.using(run_after=timedelta(seconds=1)).run_delay == timedelta(seconds=1)
