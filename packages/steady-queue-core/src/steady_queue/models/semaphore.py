from django.db import models
from django.utils import timezone


class Semaphore(models.Model):
    """The free slots of one concurrency key: ``value`` counts how many more jobs may start."""

    key = models.CharField(max_length=255, unique=True)
    value = models.IntegerField(default=1)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "steady_queue_semaphore"

    def __str__(self):
        return f"{self.key} ({self.value} free)"
