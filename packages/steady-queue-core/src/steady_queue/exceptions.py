"""The errors Steady Queue raises or records, in one hierarchy under Django's ``TaskException``.

Each error builds its message from the facts it is given, so that every place raising it words
it the same way. Errors of bad input stay where users meet them (``steady_queue.arguments``,
``steady_queue.concurrency``, ``steady_queue.recurring_task``) and derive from the base here.
"""

from django.tasks.exceptions import TaskException


class SteadyQueueError(TaskException):
    """Base of every error Steady Queue raises or records on a task."""


class TaskTimeout(SteadyQueueError, TimeoutError):
    """An attempt took longer than the task's ``timeout``; recorded on the task, then retried if allowed."""

    def __init__(self, task_path, timeout):
        self.timeout = timeout
        super().__init__(f"{task_path} took longer than its timeout of {timeout:g} s")


class BackoffError(SteadyQueueError):
    """A task's backoff callable raised, or returned what is not a duration: the task is not retried."""

    def __init__(self, task_path, problem):
        super().__init__(f"The backoff of {task_path} {problem}; the task is not retried.")


class ProcessLostError(SteadyQueueError):
    """The process running a task stopped before it could record the outcome.

    Recorded on the task (its class path and message), never raised in user code.
    """

    def as_record(self):
        """The entry for the job's ``errors`` history, as TaskResult.errors reads it back."""
        path = f"{type(self).__module__}.{type(self).__qualname__}"
        return {"exception_class_path": path, "message": str(self), "traceback": f"{path}: {self}\n"}


class ProcessExitError(ProcessLostError):
    """The worker process exited (crashed, was killed) while running the task."""

    def __init__(self, kind, name, pid, how):
        super().__init__(f"{kind} {name} (pid {pid}) {how} while running this task")


class ProcessPrunedError(ProcessLostError):
    """The worker process stopped sending heartbeats and was declared dead."""

    def __init__(self, kind, name, pid, hostname, silent_seconds):
        super().__init__(
            f"{kind} {name} (pid {pid} on {hostname}) sent no heartbeat for {silent_seconds:.0f} s and was "
            "declared dead while running this task"
        )


class ProcessMissingError(ProcessLostError):
    """The task was claimed by a process that no longer exists."""

    def __init__(self):
        super().__init__("the process that claimed this task no longer exists")


class TaskCancelled(SteadyQueueError):
    """The task was cancelled while it waited (``steady_queue.cancellation.cancel``); it will not run.

    Recorded on the task (its class path and message) as its last error, never raised by Steady Queue.
    """

    WAITING = {
        "ready": "waited for a worker",
        "scheduled": "waited for its run_after time",
        "blocked": "waited for a concurrency slot",
    }

    def __init__(self, waiting, when, by=None):
        self.waiting, self.when, self.by = waiting, when, by
        who = f" by {by}" if by else ""
        super().__init__(f"Cancelled{who} at {when:%Y-%m-%d %H:%M:%S %Z} while it {self.WAITING[waiting]}")

    # The same entry in the job's errors history as a lost process's.
    as_record = ProcessLostError.as_record
