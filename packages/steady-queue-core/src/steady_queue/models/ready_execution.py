from django.db import models

from .execution import QueuedExecution


class ReadyExecution(QueuedExecution):
    """A job waiting for a worker. Workers claim these, highest priority first, then oldest."""

    class Meta:
        db_table = "steady_queue_ready_execution"
        indexes = [
            # The two claim queries, in their exact sort order: all queues, and one queue.
            models.Index(fields=["-priority", "job"], name="sq_ready_poll_all"),
            models.Index(fields=["queue_name", "-priority", "job"], name="sq_ready_poll_queue"),
        ]
