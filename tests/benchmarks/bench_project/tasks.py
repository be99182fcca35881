"""The benchmark's tasks: the same code for every library (they all implement django.tasks)."""

import os
import time

from django.tasks import task


@task()
def noop(n):
    return None


@task()
def sleep_50ms(n):
    time.sleep(0.05)


@task()
def probe(token):
    """Record when the task started, for the enqueue-to-start latency."""
    started = time.time()
    with open(os.environ["BENCH_PROBE_FILE"], "a") as log:
        log.write(f"{token} {started}\n")
