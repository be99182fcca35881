"""How many attempts a task gets, how long between them, and how long each may take.

Options of ``@task()``, in the names Django's proposals for ``django.tasks`` use::

    @task(max_attempts=5, backoff=..., retry_on=(ConnectionError,), timeout=30)

``max_attempts`` (default ``STEADY_QUEUE["max_attempts"]``, 1: no retries) counts every run,
the first included. After a failed attempt that may be retried, the task waits ``backoff`` and
runs again: by default exponentially longer (1 s, 2 s, 4 s... at most an hour), each wait shortened
by a random part of up to half so that tasks that failed together do not retry together; or
``backoff(exception, task_result)`` returns the seconds (or a timedelta) to wait, or None to
stop retrying. ``retry_on`` lists the exceptions that are retried (default: any ``Exception``),
``never_retry_on`` those that never are. ``retry_lost`` retries a task whose process died while it
ran, which means it may run twice (at least once instead of at most once). ``timeout`` (seconds or a
timedelta; default ``STEADY_QUEUE["timeout"]``, None: no limit) fails an attempt that takes longer
with ``TaskTimeout``; that failure is retried like any other.
"""

import inspect
import random
from datetime import timedelta

from django.tasks.exceptions import InvalidTask

from steady_queue.exceptions import BackoffError

BACKOFF_BASE = 1.0
BACKOFF_CAP = 3600.0


def default_backoff(attempts):
    """Seconds to wait after ``attempts`` failed attempts: 1, 2, 4... (at most an hour), minus up to half."""
    longest = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
    return longest * (1 - random.random() / 2)


def check_options(task):
    """Raise InvalidTask for a retry or timeout option that cannot work: at decoration, not at the first failure."""
    where = f"Task {task.module_path}"
    max_attempts = task.max_attempts
    if max_attempts is not None and (isinstance(max_attempts, bool) or not isinstance(max_attempts, int)):
        raise InvalidTask(f"{where}: max_attempts must be a whole number, not {max_attempts!r}.")
    if max_attempts is not None and not 1 <= max_attempts <= 1000:
        raise InvalidTask(f"{where}: max_attempts must be from 1 (no retries) to 1000, not {max_attempts}.")
    if task.backoff is not None:
        if not callable(task.backoff):
            raise InvalidTask(f"{where}: backoff must be a callable (exception, task_result), not {task.backoff!r}.")
        try:
            inspect.signature(task.backoff).bind(Exception(), None)
        except (TypeError, ValueError) as error:
            raise InvalidTask(
                f"{where}: backoff must accept two arguments (exception, task_result): {error}."
            ) from None
    for name in ("retry_on", "never_retry_on"):
        classes = getattr(task, name)
        if not isinstance(classes, tuple) or not all(
            isinstance(cls, type) and issubclass(cls, BaseException) for cls in classes
        ):
            raise InvalidTask(f"{where}: {name} must be a tuple of exception classes, not {classes!r}.")
    if not isinstance(task.retry_lost, bool):
        raise InvalidTask(f"{where}: retry_lost must be True or False, not {task.retry_lost!r}.")
    seconds(task.timeout, f"{where}: timeout")


def seconds(value, where):
    """A positive number of seconds from a number or a timedelta; None stays None."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidTask(f"{where} must be a positive number of seconds or a timedelta, not {value!r}.")
    return float(value)


def retry_delay(task, error, result, max_attempts):
    """Seconds until the next attempt after ``error``, or None when the task has used its chances.

    ``result`` is the TaskResult of the attempt that failed (its ``attempts`` count it). A backoff
    that raises or returns something else than a duration ends the retries: the task fails with an
    error saying so (raised from here, recorded by the caller).
    """
    if result.attempts >= max_attempts:
        return None
    if isinstance(error, task.never_retry_on) or not isinstance(error, task.retry_on or (Exception,)):
        return None
    if task.backoff is None:
        return default_backoff(result.attempts)
    try:
        delay = task.backoff(error, result)
    except Exception as backoff_error:
        raise BackoffError(task.module_path, f"raised {type(backoff_error).__name__}: {backoff_error}") from error
    if delay is None:
        return None
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise BackoffError(task.module_path, f"returned {delay!r}, not a number of seconds, a timedelta or None")
    return float(delay)
