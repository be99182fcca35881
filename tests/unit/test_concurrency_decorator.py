from datetime import timedelta

import pytest
from django.tasks import task

from steady_queue.concurrency import ConcurrencyLimit, limits_concurrency
from tests.testapp import tasks


def module_level(user_id):
    return user_id


def test_the_decorator_records_the_limit_on_the_task():
    limit = tasks.per_author.concurrency
    assert isinstance(limit, ConcurrencyLimit)
    assert limit.to == 1 and limit.duration == timedelta(seconds=60)
    assert tasks.one_at_a_time.concurrency.duration is None
    assert tasks.one_at_a_time.concurrency.effective_duration() == timedelta(minutes=3)


def test_the_limit_survives_using():
    assert tasks.one_at_a_time.using(priority=5).concurrency is tasks.one_at_a_time.concurrency


def test_applied_inside_task_is_an_error_at_import():
    with pytest.raises(TypeError, match=r"must be applied outside @task\(\)"):
        task()(limits_concurrency(key="k")(module_level))


def test_applied_twice_is_an_error():
    with pytest.raises(TypeError, match="already has a concurrency limit"):
        limits_concurrency(key="other")(tasks.one_at_a_time)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": ""}, "key must be a non-empty string or a callable"),
        ({"key": 3}, "key must be a non-empty string or a callable"),
        ({"key": "k", "to": 0}, "to must be a whole number of at least 1"),
        ({"key": "k", "to": 1.5}, "to must be a whole number of at least 1"),
        ({"key": "k", "to": True}, "to must be a whole number of at least 1"),
        ({"key": "k", "duration": 0}, "duration must be a positive timedelta or seconds"),
        ({"key": "k", "duration": "3m"}, "duration must be a positive timedelta or seconds"),
        ({"key": "k", "group": ""}, "group must be a non-empty string"),
    ],
)
def test_bad_arguments_fail_at_import(kwargs, message):
    with pytest.raises(TypeError, match=message):
        limits_concurrency(**kwargs)


def test_keys_are_prefixed_with_the_group():
    assert tasks.one_at_a_time.concurrency.key_for(tasks.one_at_a_time, ("user-1", "x"), {}) == (
        "tests.testapp.tasks.one_at_a_time/user-1"
    )
    assert tasks.print_invoice.concurrency.key_for(tasks.print_invoice, ("a",), {}) == "shared-printer/everyone"


def test_a_key_function_returning_an_unsaved_instance_is_refused():
    from steady_queue.concurrency import ConcurrencyKeyError
    from tests.testapp.models import Author

    with pytest.raises(ConcurrencyKeyError, match="is an unsaved testapp.Author instance"):
        tasks.per_author.concurrency.key_for(tasks.per_author, (Author(name="new"),), {})
