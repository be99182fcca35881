"""How the runtime waits out a database that is locked or unreachable: one policy, three settings of it.

Locks pass in milliseconds; an outage can last minutes; the outcome of a task that ran must be
recorded however long the outage lasts, or the task would be run again or failed later. Each of
these is a RetryPolicy below, and every retrying loop of the runtime is one of them.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, OperationalError, connections

# Each database's module in steady_queue.sql knows its own lock errors.
from steady_queue.sql import is_lock_error

logger = logging.getLogger("steady_queue.db")


def close_thread_connections():
    """Drop this thread's database connections: the next query opens a fresh one."""
    for connection in connections.all(initialized_only=True):
        connection.close()


@dataclass(frozen=True)
class RetryPolicy:
    """Run an operation again while it fails with an error ``retryable`` accepts.

    ``attempts`` bounds the tries (None: until it succeeds). Before try n + 1 the policy waits
    ``base_delay * n`` seconds (``base_delay * 2 ** n`` when ``exponential``), at most ``max_delay``,
    scaled by a random factor from 0.5 to 1.5 when ``jitter`` is set, so that processes that failed
    together do not try again together. Broken connections are closed first when
    ``reconnect`` is set. Failures are logged at ``log_level``, the first and then every ``log_every``-th.
    """

    retryable: Callable[[BaseException], bool]
    attempts: int | None
    base_delay: float
    max_delay: float
    exponential: bool = False
    jitter: bool = False
    reconnect: bool = False
    log_level: int = logging.WARNING
    log_every: int = 1

    def run(self, operation, what):
        """Return what ``operation()`` returns; re-raise its error when it is not retryable or tries run out."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except Exception as error:
                if not self.retryable(error) or attempt == self.attempts:
                    raise
                if attempt == 1 or attempt % self.log_every == 0:
                    logger.log(self.log_level, "Cannot %s yet (attempt %d): %s; retrying", what, attempt, error)
                if self.reconnect:
                    close_thread_connections()
                time.sleep(self.delay(attempt))

    def delay(self, attempt):
        seconds = min(self.max_delay, self.base_delay * (2**attempt if self.exponential else attempt))
        return seconds * (0.5 + random.random()) if self.jitter else seconds


# Another transaction holds the lock: gone in milliseconds, so try again quickly, many times.
LOCK_CONTENTION = RetryPolicy(
    retryable=lambda error: isinstance(error, OperationalError) and is_lock_error(error),
    attempts=50,
    base_delay=0.005,
    max_delay=0.5,
    jitter=True,
    log_level=logging.DEBUG,
)

# The database is unreachable (restarting, failing over): reconnect and wait, for a while.
DATABASE_OUTAGE = RetryPolicy(
    retryable=lambda error: isinstance(error, DatabaseError),
    attempts=30,
    base_delay=0.2,
    max_delay=5.0,
    reconnect=True,
)

# A task's outcome must reach the database: its claim stays ours while we wait, however long.
UNTIL_RECORDED = RetryPolicy(
    retryable=lambda error: isinstance(error, (OperationalError, InterfaceError)),
    attempts=None,
    base_delay=0.1,
    max_delay=5.0,
    exponential=True,
    reconnect=True,
    log_every=10,
)
