"""The scheduler process: enqueues each recurring task at its run times, once per tick across hosts."""

import logging
from functools import partial

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from steady_queue.arguments import deserialize
from steady_queue.db import queue_database
from steady_queue.models import RecurringExecution, RecurringTask
from steady_queue.models.job import job_pk
from steady_queue.recurring_task import recurring_tasks
from steady_queue.retrying import close_thread_connections
from steady_queue.uniqueness import enqueue_or_find
from steady_queue.worker.poller import Poller

from .schedule import Schedule

logger = logging.getLogger("steady_queue.scheduler")

# A tick found this late (the host slept, the database was down) is skipped, not caught up.
MAX_LATENESS = 60.0


class Scheduler(Poller):
    kind = "scheduler"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.specs = recurring_tasks()
        self.schedules = {spec.key: Schedule(spec.schedule) for spec in self.specs}

    @property
    def metadata(self):
        return {"recurring_tasks": [spec.key for spec in self.specs]}

    def prepare(self):
        self._retry_database(self._sync)
        now = timezone.now()
        # Ticks missed while no scheduler ran are not back-filled: start from now.
        self.upcoming = {spec.key: self.schedules[spec.key].next_after(now) for spec in self.specs}
        self._retry_database(lambda: self._record_next_runs(self.upcoming))

    def poll(self):
        upcoming, now = self.upcoming, timezone.now()
        for spec in self.specs:
            run_at = upcoming[spec.key]
            if run_at > now:
                continue
            if (now - run_at).total_seconds() > MAX_LATENESS:
                logger.warning(
                    "Skipped recurring task %s from %s: the scheduler was %.0f s late",
                    spec.key, run_at, (now - run_at).total_seconds(),
                )
                upcoming[spec.key] = self.schedules[spec.key].next_after(now)
            elif self._fire(spec, run_at):
                upcoming[spec.key] = self.schedules[spec.key].next_after(run_at)
            else:
                continue  # the database is unreachable: try this tick again shortly
            self._retry_database(partial(self._record_next_runs, {spec.key: upcoming[spec.key]}))
        wait = (min(upcoming.values()) - timezone.now()).total_seconds()
        return min(max(wait, 0.0), 60.0)

    def _fire(self, spec, run_at):
        """Enqueue one tick unless another scheduler already did; False if the database failed."""
        # The tick's row and its job commit together on the queue database, or neither does: a tick
        # recorded without its job would be lost for good.
        using = queue_database()
        try:
            with transaction.atomic(using=using):
                # Claim the tick first: the unique (task_key, run_at) row is what makes it once only.
                try:
                    with transaction.atomic(using=using):
                        execution = RecurringExecution.objects.create(task_key=spec.key, run_at=run_at)
                except IntegrityError:
                    logger.debug("Recurring task %s at %s was already enqueued by another scheduler", spec.key, run_at)
                    return True
                args, kwargs = deserialize(spec.args, spec.kwargs)
                # run_after records the tick's time on the job; it is due, so the job is ready at once.
                result, enqueued = enqueue_or_find(spec.task().using(run_after=run_at), args, kwargs)
                if enqueued:
                    RecurringExecution.objects.filter(pk=execution.pk).update(job_id=job_pk(result.id))
                else:
                    # A @unique task whose previous run still holds its key: this tick is done, with no job.
                    logger.info(
                        "Skipped recurring task %s at %s: task %s still holds its unique key",
                        spec.key, run_at, result.id,
                    )
                RecurringTask.objects.filter(key=spec.key).update(last_run_at=run_at)
        except DatabaseError as error:
            logger.warning("Could not enqueue recurring task %s: %s", spec.key, error)
            close_thread_connections()
            self.sleep(1.0)
            return False
        except Exception:
            # A task that cannot be enqueued (its arguments' rows are gone...) must not stop the others.
            logger.exception("Could not enqueue recurring task %s at %s", spec.key, run_at)
            return True
        # Debug only (-v 2): at INFO, a schedule ticking every second would fill the log.
        logger.debug("Enqueued recurring task %s for %s (job %s)", spec.key, run_at, result.id)
        return True

    def _sync(self):
        """Make the persisted list match this configuration: add, update, and drop removed keys."""
        now = timezone.now()
        rows = [
            RecurringTask(
                key=spec.key,
                schedule=spec.schedule,
                task_path=spec.task_path,
                arguments={"args": spec.args, "kwargs": spec.kwargs},
                queue_name=spec.queue_name,
                priority=spec.priority,
                description=spec.description,
                static=True,
                updated_at=now,
            )
            for spec in self.specs
        ]
        # MySQL's ON DUPLICATE KEY UPDATE names no conflict target; key is the table's one unique column.
        names_target = connections[queue_database()].features.supports_update_conflicts_with_target
        with transaction.atomic(using=queue_database()):
            RecurringTask.objects.filter(static=True).exclude(key__in=[spec.key for spec in self.specs]).delete()
            RecurringTask.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["key"] if names_target else None,
                update_fields=["schedule", "task_path", "arguments", "queue_name", "priority", "description",
                               "static", "updated_at"],
            )

    def _record_next_runs(self, upcoming):
        for key, run_at in upcoming.items():
            RecurringTask.objects.filter(key=key).update(next_run_at=run_at)
