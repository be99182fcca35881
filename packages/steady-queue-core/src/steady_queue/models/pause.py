from django.db import models
from django.utils import timezone


class Pause(models.Model):
    """A paused queue: workers skip it until the row is deleted."""

    queue_name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_pause"

    def __str__(self):
        return self.queue_name
