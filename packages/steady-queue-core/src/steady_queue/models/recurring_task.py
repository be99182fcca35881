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


def run_now(recurring_task):
    """Enqueue a recurring task's call at once, outside its schedule; return ``(result, enqueued)``.

    The call is the one its ticks make (task, arguments, queue, priority as last synced), but no
    tick row is claimed: the schedule's own runs stay as they were. A ``@unique`` task whose key is
    held enqueues nothing, as a tick would, and returns the holder's result with ``False``.
    """
    from django.utils.module_loading import import_string

    from steady_queue.arguments import deserialize
    from steady_queue.uniqueness import enqueue_or_find

    task = import_string(recurring_task.task_path).using(
        queue_name=recurring_task.queue_name, priority=recurring_task.priority
    )
    arguments = recurring_task.arguments or {}
    args, kwargs = deserialize(arguments.get("args", []), arguments.get("kwargs", {}))
    return enqueue_or_find(task, args, kwargs)
