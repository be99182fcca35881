from django.db import models

from .execution import Execution


class ClaimedExecution(Execution):
    """A job a worker process has taken and is running.

    The row is the fence for finishing: an attempt is recorded only while its claim still exists,
    so a process that was pruned as dead cannot also report the job finished.
    """

    process = models.ForeignKey(
        "steady_queue.Process", null=True, on_delete=models.DB_SET_NULL, related_name="claimed_executions"
    )

    class Meta:
        db_table = "steady_queue_claimed_execution"
        indexes = [
            models.Index(fields=["process", "job"], name="sq_claimed_process"),
        ]
