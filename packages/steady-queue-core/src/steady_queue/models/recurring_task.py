from django.db import models
from django.utils import timezone


class RecurringTask(models.Model):
    """A recurring task as the scheduler last synced it: what runs, on which schedule."""

    key = models.CharField(max_length=255, unique=True)
    schedule = models.CharField(max_length=255)
    task_path = models.CharField(max_length=255)
    arguments = models.JSONField(default=dict, blank=True)
    queue_name = models.CharField(max_length=100)
    priority = models.SmallIntegerField(default=0)
    description = models.TextField(blank=True, default="")
    static = models.BooleanField(default=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_recurring_task"

    def __str__(self):
        return self.key
