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


try:
    from steady_queue.concurrency import limits_concurrency
except ImportError:  # a library without concurrency limits
    limits_concurrency = None

# Steady Queue's own features: steady-queue 0.3.0 has limits_concurrency but not these task options.
if limits_concurrency is not None and os.environ.get("BENCH_LIBRARY", "steady-queue") == "steady-queue":

    @limits_concurrency(key=lambda n: f"k{n % 500}", to=1)
    @task()
    def limited_noop(n):
        """A no-op under a limit of 1 per key, over 500 keys: the limit itself never makes it wait."""
        return None

    @task(max_attempts=3, timeout=30)
    def guarded_noop(n):
        """A no-op with retries and a timeout configured: what succeeding tasks pay for them."""
        return None
