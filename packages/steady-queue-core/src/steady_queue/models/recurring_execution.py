from django.db import models
from django.utils import timezone


class RecurringExecution(models.Model):
    """One tick of a recurring task. The unique (task_key, run_at) makes each tick enqueue once.

    The row outlives its job (the link is set to NULL when finished jobs are cleared), so clearing
    jobs never re-opens a tick to a second scheduler.
    """

    task_key = models.CharField(max_length=255)
    run_at = models.DateTimeField()
    job = models.OneToOneField(
        "steady_queue.Job", null=True, on_delete=models.DB_SET_NULL, related_name="recurring_execution"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_recurring_execution"
        constraints = [
            models.UniqueConstraint(fields=["task_key", "run_at"], name="sq_recurring_once_per_tick"),
        ]

    def __str__(self):
        return f"{self.task_key} at {self.run_at:%Y-%m-%d %H:%M:%S}"
