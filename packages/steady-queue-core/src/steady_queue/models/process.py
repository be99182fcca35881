from django.db import models
from django.utils import timezone


class Process(models.Model):
    """A running supervisor, worker, dispatcher or scheduler, kept alive by its heartbeat."""

    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=255, unique=True)
    pid = models.IntegerField()
    hostname = models.CharField(max_length=255)
    supervisor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="supervisees"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "steady_queue_process"
        verbose_name_plural = "processes"

    def __str__(self):
        return self.name
