"""Errors recorded on tasks whose worker process was lost. Importable wherever results are read."""


class ProcessLostError(Exception):
    """The process running a task stopped before it could record the outcome."""


class ProcessExitError(ProcessLostError):
    """The worker process exited (crashed, was killed) while running the task."""


class ProcessPrunedError(ProcessLostError):
    """The worker process stopped sending heartbeats and was declared dead."""


class ProcessMissingError(ProcessLostError):
    """The task was claimed by a process that no longer exists."""
