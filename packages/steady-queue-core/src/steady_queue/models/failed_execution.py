from .execution import Execution


class FailedExecution(Execution):
    """A job whose last attempt raised, or whose process died. It stays until retried or discarded.

    The error itself is kept in the job's ``errors`` history, so retrying keeps every attempt's error.
    """

    class Meta:
        db_table = "steady_queue_failed_execution"
