import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

# The model checks ask the database about JSON support: run alone, this module needs a connection.
pytestmark = pytest.mark.django_db


def errors_with(prefix):
    return [m for m in checks.run_checks() if m.id and m.id.startswith(prefix)]


def test_the_test_project_passes_every_check():
    assert checks.run_checks() == []


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
