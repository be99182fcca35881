from unittest import mock

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from steady_queue.checks import check_sqlite_queue_database
from steady_queue.db import queue_database
from tests.databases import queue_connection

# The model checks ask the database about JSON support: run alone, this module needs a connection.
pytestmark = pytest.mark.django_db

ON_SQLITE = queue_connection.vendor == "sqlite"


def errors_with(prefix):
    return [m for m in checks.run_checks() if m.id and m.id.startswith(prefix)]


def test_the_test_project_passes_every_check():
    # What manage.py check reports: the messages the settings do not silence.
    assert [m for m in checks.run_checks() if not m.is_silenced()] == []


def test_invalid_steady_queue_settings_are_check_errors():
    with override_settings(STEADY_QUEUE={"workers": [{"threads": 0}], "bogus": 1}):
        messages = errors_with("steady_queue.")
    assert {m.id for m in messages} == {"steady_queue.E010"}
    assert len(messages) == 2
    assert any("['threads'] must be at least 1" in m.msg for m in messages)


def test_backend_without_the_app_installed_is_an_error():
    apps_without = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "tests.testapp",
    ]
    tasks = {"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"}}
    with override_settings(INSTALLED_APPS=apps_without, TASKS=tasks):
        from django.tasks.checks import check_tasks

        messages = list(check_tasks())
    assert [m.id for m in messages] == ["steady_queue.E001"]
    assert "'steady_queue' is not in INSTALLED_APPS" in messages[0].msg


@pytest.mark.parametrize(
    ("params", "error_id", "text"),
    [
        ({"QUEUES": ["ok", "bad*"]}, "steady_queue.E002", "may not contain '*'"),
        ({"QUEUES": [" padded"]}, "steady_queue.E002", "may not contain commas or surrounding spaces"),
        ({"OPTIONS": {"database": "queue"}}, "steady_queue.E003", "unknown keys: database"),
    ],
)
def test_backend_parameters_are_checked(params, error_id, text):
    tasks = {"default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", **params}}
    with override_settings(TASKS=tasks):
        from django.tasks.checks import check_tasks

        messages = list(check_tasks())
    assert [m.id for m in messages] == [error_id]
    assert text in messages[0].msg


def test_manage_py_check_fails_on_invalid_settings():
    from django.core.management.base import SystemCheckError

    with override_settings(STEADY_QUEUE={"shutdown_timeout": "soon"}):
        with pytest.raises(SystemCheckError, match="shutdown_timeout"):
            call_command("check")


def test_a_tasks_module_that_cannot_be_imported_is_a_check_error():
    installed = ["django.contrib.contenttypes", "django.contrib.auth", "steady_queue", "tests.badtasksapp"]
    with override_settings(INSTALLED_APPS=installed):
        messages = errors_with("steady_queue.E030")
    assert len(messages) == 1
    assert messages[0].obj == "tests.badtasksapp.tasks"
    assert "Queue 'not-listed' is not in TASKS['default']['QUEUES']" in messages[0].msg
    assert "remove 'QUEUES' to accept any queue name" in messages[0].msg


def test_a_backend_without_queues_accepts_any_queue_name():
    from django.tasks.exceptions import InvalidTask

    from tests.testapp import tasks

    backends = {
        "default": {"BACKEND": "steady_queue.backend.SteadyQueueBackend"},
        "listed": {"BACKEND": "steady_queue.backend.SteadyQueueBackend", "QUEUES": ["default"]},
    }
    with override_settings(TASKS=backends):
        assert tasks.add.using(queue_name="anything").queue_name == "anything"
        with pytest.raises(InvalidTask, match=r"Queue 'anything' is not in TASKS\['listed'\]\['QUEUES'\] \(default\)"):
            tasks.add.using(queue_name="anything", backend="listed")


@pytest.mark.skipif(not ON_SQLITE, reason="needs SQLite as the queue database")
def test_a_sqlite_queue_database_on_django_defaults_is_told_about_wal_and_immediate_transactions():
    # The suite runs on Django's defaults on purpose, and its settings silence the suggestion.
    messages = errors_with("steady_queue.I")
    assert [m.id for m in messages] == ["steady_queue.I001"]
    assert f"The queue database {queue_database()!r} is SQLite without WAL" in messages[0].msg


@pytest.mark.skipif(ON_SQLITE, reason="needs a queue database other than SQLite")
def test_other_databases_are_not_told_about_sqlite_options():
    assert errors_with("steady_queue.I") == []


def test_the_recommended_sqlite_options_silence_the_suggestion():
    options = {"init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE"}
    # Only the settings change: the check reads them without connecting.
    with mock.patch.dict(settings.DATABASES[queue_database()], OPTIONS=options):
        assert check_sqlite_queue_database() == []
