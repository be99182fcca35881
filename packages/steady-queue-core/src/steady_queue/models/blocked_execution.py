from django.db import models

from .execution import QueuedExecution


class BlockedExecution(QueuedExecution):
    """A job waiting for a concurrency slot of its key to free up."""

    concurrency_key = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "steady_queue_blocked_execution"
        indexes = [
            # Releasing the next job of a key, highest priority first.
            models.Index(fields=["concurrency_key", "-priority", "job"], name="sq_blocked_release"),
            # The dispatcher's maintenance pass over expired blocks.
            models.Index(fields=["expires_at", "concurrency_key"], name="sq_blocked_maintenance"),
        ]
