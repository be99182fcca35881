"""Module-level task functions for the tests (django.tasks refuses nested functions)."""

from django.tasks import task


@task()
def add(a, b):
    return a + b


@task(queue_name="email", priority=10)
def send_email(address, subject="Hello"):
    return f"sent {subject} to {address}"


@task()
def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@task(takes_context=True)
def with_context(context, value):
    return {"attempt": context.attempt, "value": value}


@task(backend="open", queue_name="anything-goes")
def open_queue_task():
    return None


def _record_start(label):
    import os
    import threading

    from django.utils import timezone

    from tests.testapp.models import TaskRun

    return TaskRun.objects.create(
        label=label, pid=os.getpid(), thread=threading.current_thread().name, started_at=timezone.now()
    )


@task(queue_name="default")
def record(label, seconds=0.0):
    """Record a run, sleep, then record its end."""
    import time

    from django.utils import timezone

    run = _record_start(label)
    time.sleep(seconds)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return label


@task(backend="open")
def record_anywhere(label):
    _record_start(label)
    return label


@task()
def greet(author):
    return f"hello {author.name}"


@task()
def fail(message):
    raise ValueError(message)


@task()
def exit_task():
    import sys

    sys.exit(3)


@task()
def return_set():
    return {1, 2}


@task(takes_context=True)
def report_attempt(context, fail_first=False):
    if fail_first and context.attempt == 1:
        raise RuntimeError("first attempt fails")
    return {"attempt": context.attempt, "id": context.task_result.id}


@task()
async def async_add(a, b):
    import asyncio

    await asyncio.sleep(0.01)
    return a + b


from steady_queue.concurrency import limits_concurrency  # noqa: E402


@limits_concurrency(key=lambda key, label, seconds=0.0: key, to=1)
@task()
def one_at_a_time(key, label, seconds=0.0):
    return record.func(f"{key}:{label}", seconds)


@limits_concurrency(key=lambda key, label, seconds=0.0: key, to=2)
@task()
def two_at_a_time(key, label, seconds=0.0):
    return record.func(f"{key}:{label}", seconds)


@limits_concurrency(key="everyone", group="shared-printer")
@task()
def print_invoice(label):
    return record.func(f"printer:{label}")


@limits_concurrency(key="everyone", group="shared-printer")
@task()
def print_label(label):
    return record.func(f"printer:{label}")


@limits_concurrency(key=lambda author: author, to=1, duration=60)
@task()
def per_author(author):
    return author.name


@limits_concurrency(key=lambda key, label, seconds=0.0: key, to=1)
@task()
def one_at_a_time_failing(key, label, seconds=0.0):
    record.func(f"{key}:{label}", seconds)
    raise RuntimeError("failing on purpose")


@task()
def return_nul():
    return "a\x00b"


@task()
def fail_with_nul():
    raise ValueError("bad\x00value")


@task()
def chaos_work(label, seconds=0.0, fail=False):
    """A task of the chaos suite: records its run, works for a while, maybe fails on purpose."""
    record.func(label, seconds)
    if fail:
        raise ValueError(f"{label} fails on purpose")
    return label


def _chaos_backoff(error, task_result):
    return 0.2


@task(takes_context=True, max_attempts=3, backoff=_chaos_backoff)
def chaos_retrying(context, label, failures, seconds=0.0):
    """Fails its first ``failures`` attempts; each attempt is recorded as its own run, label#attempt."""
    record.func(f"{label}#{context.attempt}", seconds)
    if context.attempt <= failures:
        raise ConnectionError(f"{label} attempt {context.attempt} fails on purpose")
    return context.attempt


@limits_concurrency(key=lambda key, label, seconds=0.0: key, to=1, duration=120)
@task()
def chaos_limited(key, label, seconds=0.0):
    return record.func(f"{key}:{label}", seconds)


@task()
def kill_own_process(label):
    """Record a run, then SIGKILL the worker process running it (the crash "in the task")."""
    import os
    import signal

    _record_start(label)
    os.kill(os.getpid(), signal.SIGKILL)
