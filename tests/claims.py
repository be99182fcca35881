"""Claims as a worker makes them: claimed, then marked started before the task would run."""

from steady_queue.models.claimed_execution import finish_and_start
from steady_queue.models.ready_execution import claim


def claim_and_start(queues, limit, process):
    """Claim up to ``limit`` jobs for ``process`` (a Process row) and record their start markers."""
    jobs = claim(list(queues), limit, process.pk)
    finish_and_start([], [job.pk for job in jobs], process.pk, process.name, preserve=True)
    return jobs
