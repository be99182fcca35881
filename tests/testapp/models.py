import uuid

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name


class Tag(models.Model):
    """A model with a UUID primary key, to check keys that are not integers."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    label = models.CharField(max_length=100)

    def __str__(self):
        return self.label


class TaskRun(models.Model):
    """One run of a test task, written by the task itself: what ran, where, and when."""

    label = models.CharField(max_length=100)
    pid = models.IntegerField()
    thread = models.CharField(max_length=100, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"{self.label} (pid {self.pid})"
