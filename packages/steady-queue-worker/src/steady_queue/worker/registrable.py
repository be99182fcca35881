"""A process's row in the process table: registered at start, kept alive by heartbeats, removed at stop.

Supervisors prune rows whose heartbeats stopped and fail the tasks they held. A heartbeat that finds
its own row gone therefore means this process was declared dead: it stops (on_pruned()).
"""

import logging
import os
import socket

from django.db import DatabaseError

from steady_queue.models.process import register
from steady_queue.retrying import close_thread_connections

logger = logging.getLogger("steady_queue.processes")


def process_name(kind):
    return f"{kind}-{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class Registrable:
    kind = "process"

    def __init__(self):
        self.name = process_name(self.kind)
        self.process = None

    @property
    def metadata(self):
        """What the process table (and the admin) shows of this process's configuration."""
        return {}

    def register(self, supervisor_id=None):
        self.process = register(self.kind, self.name, os.getpid(), socket.gethostname(), supervisor_id, self.metadata)
        return self.process

    def heartbeat(self):
        """Send a heartbeat; False if the database could not be reached. Calls on_pruned() if the row is gone."""
        try:
            alive = self.process.heartbeat()
        except DatabaseError as error:
            logger.warning("%s %s could not send its heartbeat: %s", self.kind, self.name, error)
            close_thread_connections()
            return False
        if not alive:
            self.on_pruned()
        return True

    def on_pruned(self):
        raise NotImplementedError

    def deregister(self):
        """Remove the row; returns how many unfinished tasks went back to their queue with it."""
        return self.process.deregister()
