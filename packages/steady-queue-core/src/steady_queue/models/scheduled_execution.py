from django.db import models

from .execution import QueuedExecution


class ScheduledExecution(QueuedExecution):
    """A job whose ``run_after`` is in the future. The dispatcher makes it ready when it is due."""

    scheduled_at = models.DateTimeField()

    class Meta:
        db_table = "steady_queue_scheduled_execution"
        indexes = [
            models.Index(fields=["scheduled_at", "-priority", "job"], name="sq_scheduled_dispatch"),
        ]
