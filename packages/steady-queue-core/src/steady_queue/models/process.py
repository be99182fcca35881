import logging

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from steady_queue.db import lock, queued_write, retry_on_lock, skip_locked, write_transaction
from steady_queue.exceptions import ProcessMissingError, ProcessPrunedError

from .claimed_execution import ClaimedExecution, recover_claims, release_claims

logger = logging.getLogger("steady_queue.processes")


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

    @retry_on_lock
    def heartbeat(self):
        """Record that the process is alive; False if its row is gone (it was pruned as dead)."""
        # The database's clock, for writing and for pruning alike: host clocks may disagree. Queued
        # on SQLite: a heartbeat that waited in the busy handler behind busy workers and enqueuers
        # could miss the alive threshold, and its live process be declared dead.
        with queued_write():
            return bool(Process.objects.filter(pk=self.pk).update(last_heartbeat_at=Now()))

    def deregister(self):
        """Remove the process on a graceful stop; jobs it still holds go back to their queue."""
        released = release_claims(ClaimedExecution.objects.filter(process_id=self.pk))
        _delete(Process.objects.filter(pk=self.pk))
        return released


PRUNE_BATCH = 50


@retry_on_lock
def register(kind, name, pid, hostname, supervisor_id=None, metadata=None):
    return Process.objects.create(
        kind=kind,
        name=name,
        pid=pid,
        hostname=hostname,
        supervisor_id=supervisor_id,
        metadata=metadata or {},
        last_heartbeat_at=Now(),
    )


@retry_on_lock
def _delete(processes):
    processes.delete()


def prune(alive_threshold):
    """Declare processes silent for ``alive_threshold`` dead: fail their jobs, delete their rows.

    Any supervisor may prune any host's processes; rows locked by another pruner are skipped.
    Returns the names of the pruned processes.
    """
    pruned = []
    while True:
        stale = _prune_batch(alive_threshold)
        pruned += stale
        if len(stale) < PRUNE_BATCH:
            return pruned


@retry_on_lock
def _prune_batch(alive_threshold):
    names = []
    with write_transaction():
        silent_too_long = Process.objects.filter(last_heartbeat_at__lt=Now() - alive_threshold).order_by("pk")
        stale = list(skip_locked(silent_too_long)[:PRUNE_BATCH])
        for process in stale:
            silent = (timezone.now() - process.last_heartbeat_at).total_seconds()
            recovered = recover_claims(
                ClaimedExecution.objects.filter(process_id=process.pk),
                ProcessPrunedError(process.kind, process.name, process.pid, process.hostname, silent),
                release_slots=False,
            )
            logger.warning(
                "Pruned %s %s (pid %s on %s), silent for %.0f s; %d started task(s) marked failed, "
                "%d unstarted back in their queue",
                process.kind, process.name, process.pid, process.hostname, silent,
                len(recovered.failed), len(recovered.released),
            )
            names.append(process.name)
        Process.objects.filter(pk__in=[p.pk for p in stale]).delete()
    return names


@retry_on_lock
def fail_orphaned_claims():
    """Fail claims whose process row no longer exists (its process was deleted without cleanup)."""
    with write_transaction():
        orphans = ClaimedExecution.objects.filter(process__isnull=True)
        recovered = recover_claims(lock(orphans), ProcessMissingError(), release_slots=False)
    if recovered.failed or recovered.released:
        logger.warning(
            "Tasks whose process no longer exists: %d started marked failed, %d unstarted back in their queue",
            len(recovered.failed), len(recovered.released),
        )
    return recovered.failed
