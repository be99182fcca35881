"""What an operator may do to tasks, in which state, with which permission.

Every action reuses the queue's own operation, which moves a task in one transaction and does
nothing if the task has left the state meanwhile (a worker took it, the dispatcher moved it): the
message then says so. Actions that delete for good (discard) ask for confirmation first.
"""

from collections.abc import Callable
from dataclasses import dataclass

from steady_queue.cancellation import cancel, cancel_many, cancel_requested
from steady_queue.models import blocked_execution, failed_execution, scheduled_execution
from steady_queue.models.job import result_id

# How many tasks one bulk request moves: one request stays short, and says how many remain.
BULK_BATCH = 1_000


def _by(user):
    return f"console user {user.get_username()}"


def _retry(job, user):
    if failed_execution.retry([job.pk]):
        return True, "The task is back in its queue."
    return False, "The task was no longer failed: nothing was done."


def _discard(job, user):
    if failed_execution.discard([job.pk]):
        return True, "The failed task was deleted."
    return False, "The task was no longer failed: nothing was deleted."


def _discard_scheduled(job, user):
    if scheduled_execution.discard([job.pk]):
        return True, "The scheduled task was deleted."
    return False, "The task was no longer scheduled: nothing was deleted."


def _run_scheduled(job, user):
    if scheduled_execution.run_now([job.pk]):
        return True, "The task is due now: ready, or blocked if its concurrency limit is full."
    return False, "The task was no longer scheduled: nothing was done."


def _run_blocked(job, user):
    if blocked_execution.run_now([job.pk]):
        return True, "The task is ready, over its concurrency limit."
    return False, "The task was no longer blocked (it got a slot meanwhile): nothing was done."


def _cancel(job, user):
    if cancel(result_id(job), by=_by(user)):
        return True, "The task was cancelled: it will not run."
    return False, "The task was no longer waiting (a worker took it, or it ended): it was not cancelled."


def _request_cancel(job, user):
    if cancel(result_id(job), by=_by(user)):
        return True, "The task was back in its queue, and was cancelled: it will not run again."
    if cancel_requested(result_id(job)):
        return True, "The task was asked to stop: it sees it with cancel_requested(); its own outcome stands."
    return False, "The task was no longer running: nothing was done."


@dataclass(frozen=True)
class Action:
    slug: str
    label: str
    # The state a task must be in, and the permission it needs there.
    state: str
    permission: str
    perform: Callable
    confirm: bool = False


JOB_ACTIONS = [
    Action("retry", "Retry", "failed", "steady_queue.change_failedexecution", _retry),
    Action("discard", "Discard", "failed", "steady_queue.delete_failedexecution", _discard, confirm=True),
    Action("run-now", "Run now", "scheduled", "steady_queue.change_scheduledexecution", _run_scheduled),
    Action("discard", "Discard", "scheduled", "steady_queue.delete_scheduledexecution", _discard_scheduled, True),
    Action("cancel", "Cancel", "scheduled", "steady_queue.change_job", _cancel),
    Action("run-now", "Run now", "blocked", "steady_queue.change_blockedexecution", _run_blocked),
    Action("cancel", "Cancel", "blocked", "steady_queue.change_job", _cancel),
    Action("cancel", "Cancel", "ready", "steady_queue.change_job", _cancel),
    Action("cancel", "Request cancel", "in-progress", "steady_queue.change_job", _request_cancel),
]


def job_action(state, slug):
    """The action ``slug`` for a task in ``state``, or None if there is none."""
    return next((a for a in JOB_ACTIONS if a.state == state and a.slug == slug), None)


def job_actions(state, user):
    """The actions the user may take on a task in ``state``."""
    return [a for a in JOB_ACTIONS if a.state == state and user.has_perm(a.permission)]


@dataclass(frozen=True)
class BulkAction:
    slug: str
    label: str
    state: str
    permission: str
    # Takes the job ids of one batch (and the user); returns how many it moved.
    perform: Callable
    confirm_text: str


BULK_ACTIONS = [
    BulkAction(
        "retry", "Retry all", "failed", "steady_queue.change_failedexecution",
        lambda ids, user: failed_execution.retry(ids), "put back in their queues",
    ),
    BulkAction(
        "discard", "Discard all", "failed", "steady_queue.delete_failedexecution",
        lambda ids, user: failed_execution.discard(ids), "deleted for good",
    ),
    *[
        BulkAction(
            "cancel", "Cancel all", state, "steady_queue.change_job",
            lambda ids, user: cancel_many(result_ids=ids, by=_by(user)), "cancelled (they will not run)",
        )
        for state in ("scheduled", "blocked", "ready")
    ],
]


def bulk_action(state, slug):
    return next((a for a in BULK_ACTIONS if a.state == state and a.slug == slug), None)


def bulk_actions(state, user):
    return [a for a in BULK_ACTIONS if a.state == state and user.has_perm(a.permission)]
