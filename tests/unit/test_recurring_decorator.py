import datetime

import pytest
from django.tasks import task
from django.test import override_settings

from steady_queue.recurring_task import RecurringTaskError, recurring, recurring_tasks
from tests.testapp import tasks
from tests.testapp.models import Author


@pytest.fixture(autouse=True)
def _empty_registry(registry):
    """Every test here starts with no recurring task declared."""


def module_level(name):
    return name


def test_the_decorator_records_the_configuration_and_returns_the_task(registry):
    decorated = recurring(schedule="0 9 * * *", key="greet", args=("Ada",), kwargs={"loud": True},
                          description="morning")(tasks.echo)
    assert decorated is tasks.echo
    spec = registry["greet"]
    assert (spec.schedule, spec.task_path) == ("0 9 * * *", "tests.testapp.tasks.echo")
    assert (spec.args, spec.kwargs, spec.description) == (["Ada"], {"loud": True}, "morning")
    # Queue and priority default to the task's own.
    assert (spec.queue_name, spec.priority) == ("default", 0)


def test_queue_and_priority_default_to_the_tasks_own(registry):
    recurring(schedule="@hourly", key="mail")(tasks.send_email)
    assert (registry["mail"].queue_name, registry["mail"].priority) == ("email", 10)
    recurring(schedule="@hourly", key="mail-low", queue_name="low", priority=-3)(tasks.send_email)
    assert (registry["mail-low"].queue_name, registry["mail-low"].priority) == ("low", -3)


def test_several_schedules_on_one_task(registry):
    recurring(schedule="0 9 * * *", key="alice", args=("Alice",))(
        recurring(schedule="0 12 * * *", key="bob", args=("Bob",))(tasks.echo)
    )
    assert sorted(registry) == ["alice", "bob"]


def test_rich_arguments_are_encoded(registry):
    recurring(schedule="@daily", key="dated", args=(datetime.date(2026, 1, 1),))(tasks.echo)
    assert registry["dated"].args == [{"__sq__": "date", "v": "2026-01-01"}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "61 * * * *"}, "Recurring task 'k': invalid schedule '61 \\* \\* \\* \\*'"),
        ({"schedule": "every day"}, "Recurring task 'k': invalid schedule"),
        ({"schedule": ""}, "Recurring task 'k': schedule must be a crontab expression"),
        ({"args": ({1, 2},)}, "Recurring task 'k': args\\[0\\] has unsupported type builtins.set"),
        ({"args": "abc"}, "Recurring task 'k': args must be a list or tuple"),
        ({"kwargs": {"who": Author(name="x")}}, "Recurring task 'k': kwargs\\['who'\\] is an unsaved"),
        ({"priority": 101}, "Recurring task 'k': priority must be a whole number from -100 to 100"),
        ({"priority": "high"}, "priority must be a whole number"),
        ({"queue_name": "nope"}, "Recurring task 'k': queue 'nope' is not allowed by the 'default' backend"),
        ({"description": 3}, "description must be a string"),
    ],
)
def test_bad_configuration_fails_at_import_naming_the_key(kwargs, message):
    options = {"schedule": "@daily", "key": "k", **kwargs}
    with pytest.raises(RecurringTaskError, match=message):
        recurring(**options)(tasks.echo)


def test_bad_keys_are_refused():
    with pytest.raises(RecurringTaskError, match="key must be a non-empty string"):
        recurring(schedule="@daily", key="")(tasks.echo)


def test_applied_inside_task_is_an_error_at_import():
    with pytest.raises(RecurringTaskError, match=r"must be applied outside @task\(\)"):
        task()(recurring(schedule="@daily", key="inner")(module_level))


def test_a_key_used_twice_is_an_error(registry):
    recurring(schedule="@daily", key="same")(tasks.echo)
    recurring(schedule="@daily", key="same")(tasks.echo)  # the same declaration again is harmless
    message = "Recurring task 'same': the key is used twice: by tests.testapp.tasks.echo and by"
    with pytest.raises(RecurringTaskError, match=message):
        recurring(schedule="@daily", key="same")(tasks.add)


def test_settings_declare_recurring_tasks_too(registry):
    recurring(schedule="@daily", key="from-decorator")(tasks.echo)
    configured = {"from-settings": {"task": "tests.testapp.tasks.add", "schedule": "*/5 * * * *", "args": [1, 2]}}
    with override_settings(STEADY_QUEUE={"recurring_tasks": configured}):
        specs = recurring_tasks()
    assert [(s.key, s.source) for s in specs] == [("from-decorator", "decorator"), ("from-settings", "settings")]
    assert specs[1].args == [1, 2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task": "tests.testapp.tasks.nope", "schedule": "@daily"}, "cannot import task"),
        ({"task": "tests.testapp.models.Author", "schedule": "@daily"}, "is not a task"),
        ({"task": "tests.testapp.tasks.add", "schedule": "@never"}, "invalid schedule"),
    ],
)
def test_bad_settings_entries_name_the_key(options, message):
    with override_settings(STEADY_QUEUE={"recurring_tasks": {"bad": options}}):
        with pytest.raises(RecurringTaskError, match=f"Recurring task 'bad'.*{message}"):
            recurring_tasks()


def test_a_key_in_both_settings_and_a_decorator_is_an_error(registry):
    recurring(schedule="@daily", key="both")(tasks.echo)
    configured = {"both": {"task": "tests.testapp.tasks.add", "schedule": "@daily"}}
    with override_settings(STEADY_QUEUE={"recurring_tasks": configured}):
        with pytest.raises(RecurringTaskError, match="defined both by @recurring and in"):
            recurring_tasks()


def test_the_shape_of_settings_entries_is_a_system_check(registry):
    from steady_queue.checks import check_settings

    with override_settings(STEADY_QUEUE={"recurring_tasks": {"x": {"schedule": "@daily", "task": 3, "when": 1}}}):
        messages = [m.msg for m in check_settings() if m.id == "steady_queue.E010"]
    assert any("needs 'task' as a string" in m for m in messages)
    assert any("has an unknown key 'when'" in m for m in messages)


def test_a_bad_recurring_setting_is_a_system_check(registry):
    from steady_queue.checks import check_settings

    with override_settings(STEADY_QUEUE={"recurring_tasks": {"x": {"task": "a.b", "schedule": "@daily"}}}):
        messages = [m for m in check_settings() if m.id == "steady_queue.E020"]
    assert len(messages) == 1 and "cannot import task 'a.b'" in messages[0].msg
