"""Tasks with retries and timeouts, for the lifecycle tests. Each run is recorded as a TaskRun."""

import asyncio
import time

from django.tasks import task

from steady_queue.concurrency import limits_concurrency
from tests.testapp.tasks import _record_start


def quick_backoff(error, task_result):
    return 0.3


@task(takes_context=True, max_attempts=3, backoff=quick_backoff)
def flaky(context, label, failures):
    """Fails its first ``failures`` attempts with ConnectionError, then returns the attempt number."""
    _record_start(f"{label}:{context.attempt}")
    if context.attempt <= failures:
        raise ConnectionError(f"attempt {context.attempt} of {label} failed")
    return context.attempt


@task(takes_context=True, max_attempts=3)
def flaky_default_backoff(context, label, failures):
    _record_start(f"{label}:{context.attempt}")
    if context.attempt <= failures:
        raise ConnectionError(f"attempt {context.attempt} of {label} failed")
    return context.attempt


@task(takes_context=True, max_attempts=4, backoff=quick_backoff, never_retry_on=(ValueError,))
def gives_up_on_value_errors(context, label):
    _record_start(f"{label}:{context.attempt}")
    raise ValueError("not worth another try")


@task(takes_context=True, max_attempts=2, backoff=lambda error, task_result: -1)
def bad_backoff(context, label):
    _record_start(f"{label}:{context.attempt}")
    raise ConnectionError("fails, and its backoff is wrong")


@task(timeout=1)
def hangs(label):
    _record_start(label)
    while True:
        time.sleep(0.05)


@task(timeout=1, max_attempts=2, backoff=quick_backoff)
def hangs_then_retries(label):
    run = _record_start(label)
    if len(type(run).objects.filter(label=label)) == 1:
        time.sleep(3600)
    return "second attempt"


@task(timeout=1)
async def hangs_async(label):
    from asgiref.sync import sync_to_async

    await sync_to_async(_record_start)(label)
    await asyncio.sleep(3600)


@task(takes_context=True, max_attempts=2, retry_lost=True)
def outlives_its_worker(context, label, seconds):
    _record_start(f"{label}:{context.attempt}")
    if context.attempt == 1:
        time.sleep(seconds)
    return context.attempt


@limits_concurrency(key="the-one-key", to=1)
@task(max_attempts=2, backoff=quick_backoff)
def limited_flaky(label):
    _record_start(label)
    raise ConnectionError(f"{label} failed")


@task(timeout=2, queue_name="low")
def never_returns(label):
    _record_start(label)
    time.sleep(3600)
