"""Tasks for the cancellation tests. Each run is recorded as a TaskRun, so a test can tell what ran."""

import os
import threading
import time

from django.tasks import task
from django.utils import timezone

from steady_queue.cancellation import cancel_requested
from steady_queue.concurrency import limits_concurrency
from tests.testapp.models import TaskRun
from tests.testapp.tasks import _record_start


@task()
def run_once(label):
    """One insert per run: the race test's task, cheap enough for ten thousand."""
    now = timezone.now()
    TaskRun.objects.create(
        label=label, pid=os.getpid(), thread=threading.current_thread().name, started_at=now, finished_at=now
    )
    return label


@limits_concurrency(key=lambda key, label: key, to=2)
@task()
def run_once_two_at_a_time(key, label):
    run = _record_start(f"{key}:{label}")
    time.sleep(0.002)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return label


@task(takes_context=True)
def stoppable(context, label, steps=100, seconds=0.05):
    """Works through ``steps`` steps, stopping early when it was asked to: the cooperative pattern."""
    _record_start(label)
    for step in range(steps):
        if cancel_requested(context):
            return {"stopped_at_step": step}
        time.sleep(seconds)
    return {"stopped_at_step": None}


@task(takes_context=True)
def stoppable_by_raising(context, label):
    _record_start(label)
    if cancel_requested(context):
        raise RuntimeError(f"{label} was asked to stop")
    return label
