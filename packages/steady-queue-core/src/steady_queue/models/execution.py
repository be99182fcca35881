from django.db import models
from django.utils import timezone


class Execution(models.Model):
    """What every state row shares: it belongs to exactly one job and is its primary key.

    Keying the state tables by job id makes "one state row per job" a database guarantee, lets
    a claim delete ready rows by primary key, and orders equal priorities by age for free.
    """

    job = models.OneToOneField(
        "steady_queue.Job", primary_key=True, on_delete=models.DB_CASCADE, related_name="%(class)s"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class QueuedExecution(Execution):
    """A state row that workers or the dispatcher select by queue and priority (copied from the job)."""

    queue_name = models.CharField(max_length=100)
    priority = models.SmallIntegerField(default=0)

    class Meta:
        abstract = True
