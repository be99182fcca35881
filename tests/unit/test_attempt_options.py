"""Retry and timeout options are checked when the task is defined; the backoff when it is used."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.tasks import task
from django.tasks.exceptions import InvalidTask
from django.test import override_settings

from steady_queue import attempts
from steady_queue.exceptions import BackoffError, TaskTimeout


def module_level(label):
    return label


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be from 1"),
        ({"max_attempts": -3}, "max_attempts must be from 1"),
        ({"max_attempts": 2.5}, "max_attempts must be a whole number"),
        ({"max_attempts": True}, "max_attempts must be a whole number"),
        ({"backoff": 5}, "backoff must be a callable"),
        ({"backoff": lambda: 1}, "backoff must accept two arguments"),
        ({"retry_on": ValueError}, "retry_on must be a tuple of exception classes"),
        ({"never_retry_on": ("ValueError",)}, "never_retry_on must be a tuple of exception classes"),
        ({"retry_lost": "yes"}, "retry_lost must be True or False"),
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
        ({"timeout": "30"}, "timeout must be a positive number of seconds"),
        ({"timeout": timedelta(seconds=-1)}, "timeout must be a positive number of seconds"),
    ],
)
def test_bad_options_are_refused_when_the_task_is_defined(options, message):
    with pytest.raises(InvalidTask, match=f"Task {__name__}.module_level: {message}"):
        task(**options)(module_level)


def test_good_options_are_kept_on_the_task():
    defined = task(max_attempts=5, timeout=timedelta(seconds=30), retry_on=(ConnectionError,))(module_level)
    assert (defined.max_attempts, defined.timeout, defined.retry_on) == (5, timedelta(seconds=30), (ConnectionError,))


def test_settings_give_the_defaults():
    from steady_queue.conf import parse

    assert (parse({}).max_attempts, parse({}).timeout) == (1, None)
    assert parse({"max_attempts": 3, "timeout": 60}).timeout == timedelta(seconds=60)
    assert any("max_attempts" in e for e in parse({"max_attempts": 0}).errors)
    assert any("timeout" in e for e in parse({"timeout": "soon"}).errors)


class Attempted:
    """What retry_delay reads of the failed attempt's TaskResult."""

    def __init__(self, attempts):
        self.attempts = attempts


@pytest.mark.parametrize("attempts_made", [1, 2, 3, 10, 20])
def test_the_default_backoff_doubles_up_to_an_hour_less_up_to_half(attempts_made):
    longest = min(3600, 2 ** (attempts_made - 1))
    for _ in range(50):
        assert longest / 2 <= attempts.default_backoff(attempts_made) <= longest


def test_retry_delay_follows_the_options():
    flaky = task(max_attempts=3, never_retry_on=(KeyError,), retry_on=(LookupError, OSError))(module_level)
    assert attempts.retry_delay(flaky, OSError(), Attempted(1), 3) is not None
    assert attempts.retry_delay(flaky, OSError(), Attempted(3), 3) is None  # no attempts left
    assert attempts.retry_delay(flaky, KeyError(), Attempted(1), 3) is None  # never retried
    assert attempts.retry_delay(flaky, ValueError(), Attempted(1), 3) is None  # not in retry_on
    assert attempts.retry_delay(flaky, TaskTimeout("t", 1), Attempted(1), 3) is not None  # a TimeoutError


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [(lambda e, r: 7, 7.0), (lambda e, r: timedelta(minutes=1), 60.0), (lambda e, r: None, None)],
)
def test_a_backoff_callable_says_how_long_or_stops(backoff, expected):
    defined = task(max_attempts=3, backoff=backoff)(module_level)
    assert attempts.retry_delay(defined, ValueError(), Attempted(1), 3) == expected


@pytest.mark.parametrize(
    ("backoff", "message"),
    [(lambda e, r: -1, "returned -1"), (lambda e, r: "soon", "returned 'soon'"), (lambda e, r: 1 / 0, "raised Zero")],
)
def test_a_broken_backoff_ends_the_retries_with_an_error_that_says_why(backoff, message):
    defined = task(max_attempts=3, backoff=backoff)(module_level)
    with pytest.raises(BackoffError, match=message):
        attempts.retry_delay(defined, ValueError(), Attempted(1), 3)


@override_settings(STEADY_QUEUE={**settings.STEADY_QUEUE, "max_attempts": 4})
@pytest.mark.django_db
def test_the_settings_default_is_fixed_on_the_job_at_enqueue():
    from steady_queue.models import Job
    from tests.testapp import attempt_tasks, tasks

    tasks.add.enqueue(1, 2)
    attempt_tasks.flaky.enqueue("x", 0)
    assert sorted(Job.objects.values_list("max_attempts", flat=True)) == [3, 4]
